"""Task scripts staged in the script bucket under a content-addressed key.

The key is ``<prefix><sha256 of the script>``: an identical script is stored
once. ``ScriptStager.stage`` remembers what it has stored, else HEADs the key
and PUTs only when it is missing.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from botocore.exceptions import ClientError


def script_key(script: str, prefix: str) -> str:
    """The S3 key of a script under ``prefix`` (which ends with ``/``)."""
    return prefix + hashlib.sha256(script.encode()).hexdigest()


class ScriptStager:
    """Uploads scripts to one bucket, at most once per distinct content and prefix."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket
        self._stored: set[str] = set()
        self._lock = threading.Lock()
        self.puts = 0

    def stage(self, script: str, prefix: str) -> str:
        """Store ``script`` if missing; return its ``s3://`` URL."""
        key = script_key(script, prefix)
        if key not in self._stored:
            if not self._exists(key):
                self._s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=script.encode(),
                    ContentType="text/x-shellscript",
                )
                with self._lock:
                    self.puts += 1
            with self._lock:
                self._stored.add(key)
        return f"s3://{self.bucket}/{key}"

    def _exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404 or err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise
        return True
