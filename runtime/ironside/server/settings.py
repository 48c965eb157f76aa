"""Settings of the REST server: listen address, limits, workflowUrl policy, auth token.

Read from the HOCON config under ``ironside.server`` (Cromwell's own
``webservice.interface``/``webservice.port`` are honoured too) and from the
environment (``IRONSIDE_SERVER_TOKEN``). Everything defaults to the safe side:
loopback only, no remote ``workflowUrl``, no auth unless a token is configured.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ironside.errors import BadConfig
from ironside.limits import Limits, limits_from_config

if TYPE_CHECKING:  # the WDL package loads when a submission is checked: not for --version
    from ironside.wdl.imports import ImportPolicy

TOKEN_ENV = "IRONSIDE_SERVER_TOKEN"
WILDCARDS = ("0.0.0.0", "::", "")
MB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """What the server needs to know besides the engine."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_request_bytes: int = 100 * MB
    workflow_url_schemes: tuple[str, ...] = ()  # e.g. ("https",); empty: workflowUrl refused
    workflow_url_hosts: tuple[str, ...] = ()  # exact host names; "*" allows any host
    workflow_url_max_bytes: int = 10 * MB
    workflow_url_timeout: float = 30.0
    zip_max_bytes: int = 100 * MB  # total uncompressed size of a dependencies zip
    zip_max_files: int = 1000
    max_workflows: int = 0  # top-level workflows run at once; 0: system.max-concurrent-workflows
    metadata_cache_bytes: int = 64 * MB  # finished workflows' metadata responses
    auth_token: str | None = field(default=None, repr=False)  # never printed
    limits: Limits = field(default_factory=Limits)  # ironside.limits
    #: Host header values accepted besides the listen address, localhost and 127.0.0.1
    allowed_hosts: tuple[str, ...] = ()
    #: Origins allowed to make state-changing requests (and CORS); empty: same origin only
    allowed_origins: tuple[str, ...] = ()

    def url_allowed(self, scheme: str, host: str) -> bool:
        """Whether ``workflowUrl`` may be fetched from ``scheme://host``."""
        if scheme.lower() not in {s.lower() for s in self.workflow_url_schemes}:
            return False
        hosts = {h.lower() for h in self.workflow_url_hosts}
        return "*" in hosts or host.lower() in hosts

    def import_policy(self, s3_read: Callable[[str, int], bytes] | None = None) -> ImportPolicy:
        """Imports of a submission: its zip, and URLs of the allowed schemes and hosts
        (``s3://`` ones read by ``s3_read``, the engine's S3 access; None: refused)."""
        from ironside.wdl.imports import ImportPolicy

        return ImportPolicy(url_allowed=self.url_allowed, limits=self.limits, s3_read=s3_read)

    def host_names(self) -> frozenset[str]:
        """Host names the server answers to (the Host header, without the port)."""
        names = {self.host, "localhost", "127.0.0.1", "::1", *self.allowed_hosts}
        return frozenset(n.lower().strip("[]") for n in names if n not in WILDCARDS)

    def accepts_any_host(self) -> bool:
        """Listening on every address with a bearer token and no ``allowed-hosts``: the
        token already stops a rebound page, and the server's names are not known."""
        return self.host in WILDCARDS and bool(self.auth_token) and not self.allowed_hosts


def _int(block: Mapping[str, Any], key: str, default: int) -> int:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadConfig(f"config: ironside.server.{key} must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise BadConfig(
            f"config: ironside.server.{key} must be an integer, got {value!r}"
        ) from None
    if number < 0:
        raise BadConfig(f"config: ironside.server.{key} must be >= 0")
    return number


def _strings(block: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = block.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadConfig(f"config: ironside.server.{key} must be a list of strings")
    return tuple(value)


def settings_from_config(
    server: Mapping[str, Any],
    webservice: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    limits: Mapping[str, Any] | None = None,
) -> ServerSettings:
    """Build settings from the ``ironside.server`` and ``webservice`` config blocks and env."""
    env = os.environ if env is None else env
    web = webservice or {}
    token = env.get(TOKEN_ENV) or server.get("auth-token") or None
    if token is not None and not isinstance(token, str):
        raise BadConfig("config: ironside.server.auth-token must be a string")
    return ServerSettings(
        host=str(server.get("host", web.get("interface", "127.0.0.1"))),
        port=_int(server, "port", _int(web, "port", 8000)),
        max_request_bytes=_int(server, "max-request-size", 100 * MB),
        workflow_url_schemes=_strings(server, "workflow-url-schemes"),
        workflow_url_hosts=_strings(server, "workflow-url-hosts"),
        workflow_url_max_bytes=_int(server, "workflow-url-max-size", 10 * MB),
        zip_max_bytes=_int(server, "dependencies-zip-max-size", 100 * MB),
        zip_max_files=_int(server, "dependencies-zip-max-files", 1000),
        max_workflows=_int(server, "max-concurrent-workflows", 0),
        metadata_cache_bytes=_int(server, "metadata-cache-size", 64 * MB),
        auth_token=token,
        limits=limits_from_config(limits),
        allowed_hosts=_strings(server, "allowed-hosts"),
        allowed_origins=_strings(server, "allowed-origins"),
    )
