"""HOCON configuration with Cromwell's key names, read into typed settings.

An existing Cromwell config works: unknown keys are ignored with a warning, a
value of the wrong type is a ``BadConfig``. Without any config the embedded
``default.conf`` applies (local backend, SQLite under ``./ironside-executions``).
"""

from __future__ import annotations

import datetime
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from pyhocon import ConfigFactory, ConfigTree  # type: ignore[import-untyped]
from pyhocon.exceptions import ConfigException  # type: ignore[import-untyped]

from ironside.errors import BadConfig
from ironside.limits import Limits, limits_from_config

log = logging.getLogger(__name__)

#: ``include required(classpath("application"))``: Cromwell's bundled defaults (not ours).
_CLASSPATH_INCLUDE = re.compile(r"^\s*include\s+(required\s*\()?\s*classpath\(.*$", re.M)

KNOWN_TOP = {
    "backend",
    "call-caching",
    "database",
    "docker",
    "system",
    "webservice",
    "akka",
    "engine",
    "workflow-options",
    "services",
    "include",
    "filesystems",
    "google",
    "languages",
    "ironside",
}
KNOWN_PROVIDER_CONFIG = {
    "allowed-job-role-arns",
    "fallbackQueueArn",
    "job-role-arn",
    "submit-rate",
    "submit-rate-min",
    "submit-rate-max",
    "array-jobs",
    "array-jobs-min-size",
    "root",
    "concurrent-job-limit",
    "numSubmitAttempts",
    "numCreateDefinitionAttempts",
    "default-runtime-attributes",
    "dockerhub",
    "docker-mirror",
    "filesystems",
    "run-in-container",
    "runtime-attributes",
    "submit",
    "submit-docker",
    "kill",
    "check-alive",
    "job-id-regex",
    "auth",
    "region",
    "job-queue-arn",
    "jobQueueArn",
    "script-bucket",
    "script-bucket-prefix",
}


@dataclass(frozen=True)
class ProviderSettings:
    """One ``backend.providers.<name>`` block."""

    name: str
    actor_factory: str = ""
    root: str = "ironside-executions"
    concurrent_job_limit: int = 0  # 0: twice the cores
    run_in_container: str = "auto"  # auto | always | never
    default_runtime_attributes: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the whole config block, for plugins

    def job_limit(self) -> int:
        """The effective concurrent-job-limit."""
        return self.concurrent_job_limit or 2 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    """Everything the engine reads from config."""

    default_backend: str
    providers: dict[str, ProviderSettings]
    database_url: str
    call_caching_enabled: bool = True
    docker_hash_lookup: bool = True
    warnings: tuple[str, ...] = ()
    #: the raw ``call-caching`` and ``docker.hash-lookup`` blocks (read by ``ironside.callcache``)
    call_caching_block: dict[str, Any] = field(default_factory=dict)
    docker_hash_lookup_block: dict[str, Any] = field(default_factory=dict)
    #: ``system.max-concurrent-workflows``: top-level workflows running at once (Cromwell's 5000)
    max_concurrent_workflows: int = 5000
    #: ``system.max-retries``: new attempts after lost ones (process or host gone), per call
    max_system_retries: int = 3
    #: ``system.store-patience``: seconds of store outage after which the engine pauses
    store_patience: float = 600.0
    #: the whole merged config, for sections other modules read (``section``)
    tree: Any = field(default=None, compare=False, repr=False)
    limits: Limits = field(default_factory=Limits)  # ironside.limits
    #: ironside.server.allowed-input-roots (empty: the execution root and s3://)
    allowed_input_roots: tuple[str, ...] = ()

    def input_roots(self) -> tuple[str, ...]:
        """Where a submitted workflow's files may live: the configured roots, else the
        default provider's execution root and ``s3://``; the execution root always."""
        root = self.provider().root
        local = root if "://" in root else os.path.abspath(root)
        return (local, *(self.allowed_input_roots or ("s3://",)))

    def section(self, key: str) -> dict[str, Any]:
        """A config block as plain values (``{}`` when absent), e.g. ``ironside.server``."""
        if self.tree is None:
            return {}
        block = _get(self.tree, key, dict, "config", {})
        return dict(block)

    def provider(self, name: str | None = None) -> ProviderSettings:
        """The named (or default) provider's settings."""
        key = name or self.default_backend
        if key not in self.providers:
            raise BadConfig(f"config: backend.providers has no provider {key!r}")
        return self.providers[key]


_DURATION_UNITS = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip


def parse_duration(value: Any) -> float:
    """Seconds in a HOCON duration (``"20 minutes"``, ``"30s"``, or a number of milliseconds).

    pyhocon reads an unquoted duration as a ``timedelta`` or a ``relativedelta``."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if type(value).__name__ == "relativedelta":
        epoch = datetime.datetime(2000, 1, 1)
        return ((epoch + value) - epoch).total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in {**_DURATION_UNITS, "": 0.001}:
        raise BadConfig(f"not a duration: {value!r} (e.g. '20 minutes')")
    return float(match.group(1)) * _DURATION_UNITS.get(unit, 0.001)


def _default_tree() -> ConfigTree:
    text = resources.files("ironside").joinpath("default.conf").read_text()
    return ConfigFactory.parse_string(text)


def load_settings(path: str | None = None) -> Settings:
    """Read ``path`` (or ``$IRONSIDE_CONFIG``) over the embedded default."""
    path = path or os.environ.get("IRONSIDE_CONFIG") or None
    tree = _default_tree()
    if path:
        try:
            with open(path) as fh:
                text = fh.read()
        except OSError as exc:
            raise BadConfig(f"config {path}: cannot read: {exc.strerror or exc}") from None
        text, dropped = _CLASSPATH_INCLUDE.subn("", text)
        if dropped:
            log.warning("config %s: include of Cromwell's classpath config ignored", path)
        try:
            user = ConfigFactory.parse_string(text, basedir=os.path.dirname(os.path.abspath(path)))
        except Exception as exc:  # pyparsing errors carry line/col in their text
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadConfig(f"config {path}: cannot parse: {msg}") from None
        if "backend.providers" in user and "backend.default" not in user:
            # a user config that defines its own providers replaces the default ones
            tree.pop("backend.providers", None)
        tree = user.with_fallback(tree)
    return _settings_from_tree(tree, path or "<default>")


def _get(tree: ConfigTree, key: str, kind: type, where: str, default: Any = None) -> Any:
    try:
        value = tree.get(key, default)
    except ConfigException:
        return default
    if value is None:
        return default
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind is int and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind is dict and isinstance(value, ConfigTree):
        return value.as_plain_ordered_dict()
    if kind is int and isinstance(value, bool):
        value = str(value)
    if not isinstance(value, kind):
        shown = type(value).__name__
        raise BadConfig(f"config {where}: {key} must be {kind.__name__}, got {shown} {value!r}")
    return value


def _settings_from_tree(tree: ConfigTree, where: str) -> Settings:
    warnings: list[str] = []
    for key in tree.keys():
        if key not in KNOWN_TOP:
            warnings.append(f"config {where}: unknown key {key!r} ignored")
    providers_tree = tree.get("backend.providers", ConfigTree())
    if not isinstance(providers_tree, ConfigTree):
        raise BadConfig(f"config {where}: backend.providers must be an object")
    providers: dict[str, ProviderSettings] = {}
    for name in providers_tree.keys():
        providers[name] = _provider(name, providers_tree.get(name), where, warnings)
    default = _get(tree, "backend.default", str, where, "Local")
    if default not in providers:
        raise BadConfig(f"config {where}: backend.default {default!r} is not in backend.providers")
    url = _database_url(tree, where)
    for w in warnings:
        log.warning(w)
    return Settings(
        default_backend=default,
        providers=providers,
        database_url=url,
        call_caching_enabled=_get(tree, "call-caching.enabled", bool, where, True),
        docker_hash_lookup=_get(tree, "docker.hash-lookup.enabled", bool, where, True),
        warnings=tuple(warnings),
        call_caching_block=_get(tree, "call-caching", dict, where, {}),
        docker_hash_lookup_block=_get(tree, "docker.hash-lookup", dict, where, {}),
        limits=limits_from_config(_get(tree, "ironside.limits", dict, where, {})),
        allowed_input_roots=_roots(tree, where),
        max_concurrent_workflows=max(
            1, _get(tree, "system.max-concurrent-workflows", int, where, 5000)
        ),
        max_system_retries=max(0, _get(tree, "system.max-retries", int, where, 3)),
        store_patience=_duration(tree, "system.store-patience", where, "10 minutes"),
        tree=tree,
    )


def _duration(tree: ConfigTree, key: str, where: str, default: str) -> float:
    try:
        value = tree.get(key, default)
    except ConfigException:
        value = default
    try:
        return parse_duration(value if value is not None else default)
    except BadConfig as exc:
        raise BadConfig(f"config {where}: {key}: {exc}") from None


def _roots(tree: ConfigTree, where: str) -> tuple[str, ...]:
    value = _get(tree, "ironside.server.allowed-input-roots", list, where, [])
    if not all(isinstance(v, str) for v in value):
        raise BadConfig(f"config {where}: ironside.server.allowed-input-roots: a list of strings")
    return tuple(v if "://" in v else os.path.abspath(v) for v in value)


def _provider(name: str, block: Any, where: str, warnings: list[str]) -> ProviderSettings:
    if not isinstance(block, ConfigTree):
        raise BadConfig(f"config {where}: backend.providers.{name} must be an object")
    cfg = block.get("config", ConfigTree())
    if not isinstance(cfg, ConfigTree):
        raise BadConfig(f"config {where}: backend.providers.{name}.config must be an object")
    for key in cfg.keys():
        if key not in KNOWN_PROVIDER_CONFIG:
            warnings.append(f"config {where}: backend.providers.{name}.config.{key} ignored")
    p = f"backend.providers.{name}.config"
    ric = _get(cfg, "run-in-container", str, f"{where} {p}", "auto")
    if ric not in ("auto", "always", "never"):
        raise BadConfig(f"config {where}: {p}.run-in-container must be auto|always|never")
    limit = _get(cfg, "concurrent-job-limit", int, f"{where} {p}", 0)
    if limit < 0:
        raise BadConfig(f"config {where}: {p}.concurrent-job-limit must be >= 0")
    return ProviderSettings(
        name=name,
        actor_factory=_get(block, "actor-factory", str, where, ""),
        root=_get(cfg, "root", str, f"{where} {p}", "ironside-executions"),
        concurrent_job_limit=limit,
        run_in_container=ric,
        default_runtime_attributes=_get(
            cfg, "default-runtime-attributes", dict, f"{where} {p}", {}
        ),
        raw=cfg.as_plain_ordered_dict(),
    )


def _database_url(tree: ConfigTree, where: str) -> str:
    jdbc = _get(tree, "database.db.url", str, where, None)
    if jdbc:
        return translate_jdbc(jdbc, tree, where)
    return str(_get(tree, "database.url", str, where, "sqlite:///ironside.sqlite"))


def translate_jdbc(url: str, tree: ConfigTree, where: str) -> str:
    """``jdbc:mysql://host:port/db?...`` plus ``database.db.user/password`` -> SQLAlchemy URL."""
    if not url.startswith("jdbc:mysql://"):
        if url.startswith("jdbc:"):
            raise BadConfig(f"config {where}: database.db.url {url.split('//')[0]} not supported")
        return url
    rest = url[len("jdbc:mysql://") :].split("?", 1)[0]
    user = _get(tree, "database.db.user", str, where, "")
    password = _get(tree, "database.db.password", str, where, "")
    cred = ""
    if user:
        from urllib.parse import quote

        cred = quote(user, safe="") + (":" + quote(password, safe="") if password else "") + "@"
    return f"mysql+pymysql://{cred}{rest}"
