"""Credentials out of messages and logs: URL user-info, secret query parameters, known secrets.

``redact`` rewrites ``scheme://user:password@host`` to ``scheme://user:***@host``
and ``?X-Amz-Signature=...``/``token=...``/``password=...`` query values to
``***``. ``SecretFilter`` is a logging filter that also replaces the values of
the secret environment variables the process holds (API token, AWS keys, the
database password) wherever they appear in a log record.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/\s:@'\"]*):[^/\s'\"]*@")
_QUERY_SECRET = re.compile(
    r"(?i)(?P<key>[?&;](?:x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig"
    r"|token|access_token|password|passwd|pwd|secret|api[_-]?key)=)[^&\s'\"]*"
)
#: environment variables whose values are secrets (plus any name that says so)
SECRET_ENV = ("IRONSIDE_SERVER_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_SECRET_NAME = re.compile(r"(?i)(secret|token|passw|credential|api_?key)")
_MIN_SECRET = 6  # shorter values would mask ordinary words


def redact(text: str) -> str:
    """``text`` with URL passwords and secret query values replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: m["key"] + MASK, text)


def url_password(url: str) -> str | None:
    """The password in a URL's user-info, if any."""
    match = _USERINFO.match(url)
    if not match:
        return None
    return url[match.end("user") + 1 : match.end() - 1] or None


def secret_values(
    env: Mapping[str, str] | None = None, extra: Iterable[str | None] = ()
) -> list[str]:
    """Values of the secret-looking variables of ``env`` (default: this process) and ``extra``."""
    env = os.environ if env is None else env
    named = [v for k, v in env.items() if k in SECRET_ENV or _SECRET_NAME.search(k)]
    found = {v for v in [*named, *extra] if v and len(v) >= _MIN_SECRET}
    return sorted(found, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    """``redact(text)`` with each of ``secrets`` replaced by ``***`` too."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return redact(text)


class SecretFilter(logging.Filter):
    """Rewrites each record's message (and traceback) without credentials."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg, self.secrets)
        if isinstance(record.args, tuple):  # the formatters (uvicorn's too) unpack them
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = mask(formatted, self.secrets)  # formatters use it as it is
        return True

    def _clean(self, value: object) -> object:
        if isinstance(value, str):
            return mask(value, self.secrets)
        if isinstance(value, BaseException):
            return mask(str(value), self.secrets)
        return value


def install_log_redaction(secrets: Iterable[str] | None = None) -> SecretFilter:
    """Attach one ``SecretFilter`` to every handler of the root and uvicorn loggers."""
    filt = SecretFilter(secret_values() if secrets is None else secrets)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.addFilter(filt)
        for handler in logger.handlers:
            handler.addFilter(filt)
    return filt
