"""Instance identity through IMDSv2 (token first, then the identity document)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


class ImdsError(Exception):
    """The instance metadata service could not be reached or answered nonsense."""


@dataclass(frozen=True)
class InstanceIdentity:
    """Who and where this host is."""

    instance_id: str
    region: str
    availability_zone: str


class Imds:
    """A minimal IMDSv2 client."""

    TOKEN_PATH = "/latest/api/token"
    DOCUMENT_PATH = "/latest/dynamic/instance-identity/document"

    def __init__(self, endpoint: str = "http://169.254.169.254", timeout_s: float = 2.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout_s = timeout_s

    def identity(self) -> InstanceIdentity:
        """Fetch the identity document; raises ``ImdsError``."""
        token = self._request(
            "PUT", self.TOKEN_PATH, {"X-aws-ec2-metadata-token-ttl-seconds": "300"}
        )
        body = self._request("GET", self.DOCUMENT_PATH, {"X-aws-ec2-metadata-token": token})
        try:
            document = json.loads(body)
            return InstanceIdentity(
                instance_id=document["instanceId"],
                region=document["region"],
                availability_zone=document["availabilityZone"],
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ImdsError(f"bad identity document from IMDS: {error}") from error

    def _request(self, method: str, path: str, headers: dict[str, str]) -> str:
        request = urllib.request.Request(self.endpoint + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return str(response.read().decode())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise ImdsError(f"IMDS unreachable at {self.endpoint}{path}: {error}") from error
