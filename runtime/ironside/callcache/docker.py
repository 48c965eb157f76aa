"""Resolving a task's ``docker`` image to its content digest for the call-cache hash.

A floating tag (``ubuntu:22.04``) can point at different images over time, so
the hash uses the digest it points at now. Lookups go to:

- Docker Hub and any other registry: the registry HTTP API v2 (anonymous or
  basic credentials, the Bearer token flow announced by ``WWW-Authenticate``,
  ``HEAD /v2/<name>/manifests/<tag>`` and its ``Docker-Content-Digest``);
- ECR Public (``public.ecr.aws``): the same registry API;
- private ECR (``<account>.dkr.ecr.<region>.amazonaws.com``): boto3
  ``BatchGetImage``, falling back to ``DescribeImages``.

Each registry kind has its own worker pool sized by
``docker.hash-lookup.<kind>.num-threads``; successful results are kept for
``cache-entry-ttl`` (clock injected). An image already pinned by digest is
never looked up. A digest that cannot be found is a :class:`DigestUnavailable`
carrying the reason: the engine runs the call uncached and says why.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ironside.config import parse_duration
from ironside.errors import BadConfig

MANIFEST_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
)
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
ECR_PUBLIC = "public.ecr.aws"
KINDS = ("dockerhub", "ecr", "ecr-public", "generic")

_ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")
_AUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


class LookupFailed(Exception):
    """A registry could not say which digest a tag points at; the message says why."""


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference. ``name`` is what the user wrote, minus tag and digest."""

    name: str
    registry: str
    repository: str
    tag: str
    digest: str | None = None

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        """Parse ``[registry/]repository[:tag][@digest]`` with Docker's defaults."""
        rest, _, digest = image.strip().partition("@")
        slash, colon = rest.rfind("/"), rest.rfind(":")
        name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, "latest")
        if not name or (digest and not _DIGEST.match(digest)):
            raise ValueError(f"not a docker image reference: {image!r}")
        first, sep, remainder = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, remainder
        else:
            registry, repository = DOCKER_HUB, name
        if registry in (DOCKER_HUB, "index.docker.io", DOCKER_HUB_API):
            registry = DOCKER_HUB
            if "/" not in repository:
                repository = f"library/{repository}"
        return cls(
            name=name, registry=registry, repository=repository, tag=tag, digest=digest or None
        )

    @property
    def kind(self) -> str:
        """Which lookup serves it: ``dockerhub``, ``ecr``, ``ecr-public`` or ``generic``."""
        if self.registry == DOCKER_HUB:
            return "dockerhub"
        if self.registry == ECR_PUBLIC:
            return "ecr-public"
        if _ECR_HOST.match(self.registry):
            return "ecr"
        return "generic"

    def pinned(self, digest: str) -> str:
        """``name@digest``: what the call hash and a pinned pull use."""
        return f"{self.name}@{digest}"


@dataclass(frozen=True)
class DigestFound:
    """The image's digest; ``pinned`` is ``name@digest``."""

    image: str
    digest: str
    pinned: str


@dataclass(frozen=True)
class DigestUnavailable:
    """No digest for the image: the call runs, uncached, and metadata says ``reason``."""

    image: str
    reason: str


DigestResult = DigestFound | DigestUnavailable


class DigestLookup(Protocol):
    """Something that asks a registry for the digest of a tag."""

    def digest(self, ref: ImageRef) -> str:
        """The digest ``ref.tag`` points at; raises :class:`LookupFailed`."""


@dataclass(frozen=True)
class DockerHashLookupSettings:
    """``docker.hash-lookup``: on/off, TTL and size of the result cache, workers per kind.

    ``failure_ttl``: how long a failed lookup is remembered (an unreachable
    registry costs one lookup per image per period, not one per call);
    ``timeout``: the longest a call waits for its digest before it runs uncached
    (the lookup goes on in the background and its result is remembered).
    """

    enabled: bool = True
    cache_entry_ttl: float = 20 * 60.0
    cache_size: int = 200
    num_threads: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 10))
    max_retries: int = 3
    failure_ttl: float = 60.0
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> DockerHashLookupSettings:
        """Read the ``docker.hash-lookup`` block (a mapping, e.g. a pyhocon ConfigTree)."""
        config = config or {}
        threads = {}
        for kind in KINDS:
            block = config.get(kind) or {}
            threads[kind] = _int(
                block.get("num-threads", 10), f"docker.hash-lookup.{kind}.num-threads"
            )
        return cls(
            enabled=_bool(config.get("enabled", True), "docker.hash-lookup.enabled"),
            cache_entry_ttl=parse_duration(config.get("cache-entry-ttl", "20 minutes")),
            cache_size=_int(config.get("cache-size", 200), "docker.hash-lookup.cache-size"),
            num_threads=threads,
            max_retries=_int(config.get("max-retries", 3), "docker.hash-lookup.max-retries"),
            failure_ttl=parse_duration(config.get("failure-ttl", "1 minute")),
            timeout=parse_duration(config.get("timeout", "10 seconds")),
        )


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadConfig(f"{key} must be a non-negative integer, got {value!r}")
    return int(value)


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise BadConfig(f"{key} must be true or false, got {value!r}")


class RegistryV2Lookup:
    """The registry HTTP API v2 (Docker Hub, ECR Public, any other registry).

    ``plain_http`` lists registries reached over ``http://`` (tests, local
    registries); ``credentials(registry)`` may return ``(user, password)``;
    ``endpoint`` maps a registry name to the host that serves its API.
    """

    def __init__(
        self,
        timeout: float = 10.0,
        plain_http: Iterable[str] = (),
        credentials: Callable[[str], tuple[str, str] | None] = lambda _: None,
        endpoint: Mapping[str, str] | None = None,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout = timeout
        self.plain_http = set(plain_http)
        self.credentials = credentials
        self.endpoint = {DOCKER_HUB: DOCKER_HUB_API, **(endpoint or {})}
        self.retries = retries
        self.sleep = sleep
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def digest(self, ref: ImageRef) -> str:
        """HEAD the manifest (GET and hash it if the registry gives no digest header)."""
        host = self.endpoint.get(ref.registry, ref.registry)
        scheme = "http" if host in self.plain_http or ref.registry in self.plain_http else "https"
        url = f"{scheme}://{host}/v2/{ref.repository}/manifests/{ref.tag}"
        status, headers, _ = self._authorised(ref, "HEAD", url)
        digest = headers.get("Docker-Content-Digest")
        if status == 200 and digest:
            return digest
        status, headers, body = self._authorised(ref, "GET", url)
        if status != 200:
            raise LookupFailed(f"{ref.name}:{ref.tag}: registry answered HTTP {status}")
        return headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()

    def _authorised(self, ref: ImageRef, method: str, url: str) -> tuple[int, Any, bytes]:
        """Send with a cached token; on 401 follow the challenge once and resend."""
        key = (ref.registry, ref.repository)
        status, headers, body = self._send(method, url, self._tokens.get(key))
        if status == 401:
            authorization = self._answer_challenge(ref, headers.get("WWW-Authenticate", ""))
            with self._lock:
                self._tokens[key] = authorization
            status, headers, body = self._send(method, url, authorization)
        if status == 404:
            raise LookupFailed(f"{ref.name}:{ref.tag}: manifest not found in {ref.registry}")
        if status in (401, 403):
            raise LookupFailed(f"{ref.name}:{ref.tag}: not authorised by {ref.registry}")
        return status, headers, body

    def _answer_challenge(self, ref: ImageRef, challenge: str) -> str:
        scheme, _, params_text = challenge.partition(" ")
        creds = self.credentials(ref.registry)
        if scheme.lower() == "basic" and creds:
            return "Basic " + _basic(creds)
        if scheme.lower() != "bearer":
            raise LookupFailed(f"{ref.registry}: unsupported authentication {challenge!r}")
        params = dict(_AUTH_PARAM.findall(params_text))
        if "realm" not in params:
            raise LookupFailed(f"{ref.registry}: token challenge without a realm")
        query = {"scope": f"repository:{ref.repository}:pull"}
        if "service" in params:
            query["service"] = params["service"]
        joiner = "&" if "?" in params["realm"] else "?"
        token_url = params["realm"] + joiner + urllib.parse.urlencode(query)
        basic = "Basic " + _basic(creds) if creds else None
        status, _, body = self._send("GET", token_url, basic)
        if status != 200:
            raise LookupFailed(f"{ref.registry}: token endpoint answered HTTP {status}")
        token = _token_from(body)
        return f"Bearer {token}"

    def _send(self, method: str, url: str, authorization: str | None) -> tuple[int, Any, bytes]:
        """One request with retries on 429/5xx/connection errors; never raises HTTPError."""
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        if authorization:
            headers["Authorization"] = authorization
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.status, response.headers, response.read()
            except urllib.error.HTTPError as error:
                if error.code not in (429, 500, 502, 503, 504) or attempt == self.retries:
                    return error.code, error.headers, error.read()
            except (urllib.error.URLError, OSError) as error:
                if attempt == self.retries:
                    raise LookupFailed(f"cannot reach {url}: {error}") from error
            self.sleep(min(2.0**attempt, 30.0))
        raise AssertionError("unreachable")


def dockerhub_credentials(token: str | None) -> Callable[[str], tuple[str, str] | None]:
    """Credentials for Docker Hub from the backend's ``dockerhub.token`` (base64 ``user:token``)."""
    if not token:
        return lambda _: None
    try:
        user, sep, secret = base64.b64decode(token, validate=True).decode().partition(":")
    except ValueError as error:
        raise BadConfig("dockerhub.token must be base64 of user:token") from error
    if not sep:
        raise BadConfig("dockerhub.token must be base64 of user:token")
    return lambda registry: (user, secret) if registry == DOCKER_HUB else None


def _basic(creds: tuple[str, str]) -> str:
    return base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


def _token_from(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise LookupFailed("token endpoint returned no JSON") from error
    token = (
        payload.get("token") or payload.get("access_token") if isinstance(payload, dict) else None
    )
    if not token:
        raise LookupFailed("token endpoint returned no token")
    return str(token)


class EcrLookup:
    """Private ECR through boto3: ``BatchGetImage``, then ``DescribeImages``.

    ``BatchGetImage`` is what Batch hosts' instance roles are usually allowed;
    ``DescribeImages`` is tried when it is denied. ``client_for_region``
    returns an ``ecr`` client for a region (created once per region by the caller).
    """

    def __init__(self, client_for_region: Callable[[str], Any]) -> None:
        self.client_for_region = client_for_region

    def digest(self, ref: ImageRef) -> str:
        """The digest of ``ref.tag`` in the repository named by ``ref``."""
        match = _ECR_HOST.match(ref.registry)
        if not match:
            raise LookupFailed(f"{ref.registry} is not an ECR registry")
        client = self.client_for_region(match.group("region"))
        ids = {"registryId": match.group("account"), "repositoryName": ref.repository}
        image_id = {"imageTag": ref.tag}
        try:
            found = client.batch_get_image(
                **ids, imageIds=[image_id], acceptedMediaTypes=list(MANIFEST_MEDIA_TYPES)
            )
            images = found.get("images", [])
            if images:
                return str(images[0]["imageId"]["imageDigest"])
            described = client.describe_images(**ids, imageIds=[image_id])
            return str(described["imageDetails"][0]["imageDigest"])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise LookupFailed(f"{ref.name}:{ref.tag}: {code} in ECR") from error
            raise LookupFailed(f"{ref.name}:{ref.tag}: ECR error {code}") from error
        except (BotoCoreError, KeyError, IndexError) as error:
            raise LookupFailed(f"{ref.name}:{ref.tag}: ECR lookup failed: {error}") from error


class DockerDigestResolver:
    """Image -> digest, with a worker pool per registry kind and a TTL cache of hits.

    ``lookups`` maps a kind (``dockerhub``, ``ecr``, ``ecr-public``,
    ``generic``) to the :class:`DigestLookup` serving it; a kind without a
    lookup, or with ``num-threads = 0``, yields :class:`DigestUnavailable`.
    """

    def __init__(
        self,
        settings: DockerHashLookupSettings,
        lookups: Mapping[str, DigestLookup],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.lookups = dict(lookups)
        self.clock = clock
        self._cache: OrderedDict[str, tuple[DigestFound, float]] = OrderedDict()
        self._failures: dict[str, tuple[DigestUnavailable, float]] = {}
        self._in_flight: dict[str, Future[DigestResult]] = {}
        self._lock = threading.Lock()
        self._pools = {
            kind: ThreadPoolExecutor(max_workers=count, thread_name_prefix=f"digest-{kind}")
            for kind, count in settings.num_threads.items()
            if count > 0
        }

    def workers(self, kind: str) -> int:
        """How many lookups of ``kind`` may run at once (0: that kind is not looked up)."""
        return self.settings.num_threads.get(kind, 0) if kind in self._pools else 0

    def resolve(self, image: str) -> DigestResult:
        """The digest of ``image``, waiting at most ``timeout`` (then unavailable, remembered)."""
        try:
            return self.submit(image).result(timeout=self.settings.timeout)
        except FutureTimeout:
            reason = f"digest lookup took longer than {self.settings.timeout:g}s"
            result = DigestUnavailable(image, reason)
            with self._lock:
                self._failures[image] = (result, self.clock() + self.settings.failure_ttl)
            return result

    def resolve_many(self, images: Iterable[str]) -> dict[str, DigestResult]:
        """Digests of many images, looked up concurrently within each kind's worker limit."""
        futures = {image: self.submit(image) for image in set(images)}
        return {image: future.result() for image, future in futures.items()}

    def submit(self, image: str) -> Future[DigestResult]:
        """Start resolving ``image``; a pinned, cached or in-flight image costs no new lookup."""
        immediate = self._immediate(image)
        if immediate is not None:
            done: Future[DigestResult] = Future()
            done.set_result(immediate)
            return done
        ref = ImageRef.parse(image)
        with self._lock:
            if image in self._in_flight:
                return self._in_flight[image]
            pool = self._pools.get(ref.kind)
            lookup = self.lookups.get(ref.kind)
            if pool is None or lookup is None:
                return _done(DigestUnavailable(image, f"no digest lookup for {ref.kind} images"))
            future = pool.submit(self._lookup, lookup, image, ref)
            self._in_flight[image] = future
        return future

    def close(self) -> None:
        """Stop the worker pools."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _immediate(self, image: str) -> DigestResult | None:
        try:
            ref = ImageRef.parse(image)
        except ValueError as error:
            return DigestUnavailable(image, str(error))
        if ref.digest:
            return DigestFound(image, ref.digest, ref.pinned(ref.digest))
        if not self.settings.enabled:
            return DigestUnavailable(image, "docker.hash-lookup is disabled and the tag floats")
        with self._lock:
            cached = self._cache.get(image)
            if cached is not None and cached[1] > self.clock():
                self._cache.move_to_end(image)
                return cached[0]
            failed = self._failures.get(image)
            if failed is not None and failed[1] > self.clock():
                return failed[0]
        return None

    def _lookup(self, lookup: DigestLookup, image: str, ref: ImageRef) -> DigestResult:
        try:
            digest = lookup.digest(ref)
            result: DigestResult = DigestFound(image, digest, ref.pinned(digest))
        except LookupFailed as error:
            result = DigestUnavailable(image, str(error))
        except Exception as error:  # a lookup must never fail the call
            result = DigestUnavailable(image, f"digest lookup failed: {error!r}")
        with self._lock:
            self._in_flight.pop(image, None)
            if isinstance(result, DigestFound):
                self._failures.pop(image, None)
                self._remember(image, result)
            else:
                self._remember_failure(image, result)
        return result

    def _remember_failure(self, image: str, result: DigestUnavailable) -> None:
        if len(self._failures) >= max(self.settings.cache_size, 1):
            now = self.clock()
            self._failures = {k: v for k, v in self._failures.items() if v[1] > now}
        self._failures[image] = (result, self.clock() + self.settings.failure_ttl)

    def _remember(self, image: str, result: DigestFound) -> None:
        self._cache[image] = (result, self.clock() + self.settings.cache_entry_ttl)
        self._cache.move_to_end(image)
        while len(self._cache) > max(self.settings.cache_size, 0):
            self._cache.popitem(last=False)


def _done(result: DigestResult) -> Future[DigestResult]:
    future: Future[DigestResult] = Future()
    future.set_result(result)
    return future


def build_resolver(
    config: Mapping[str, Any] | None,
    ecr_client_for_region: Callable[[str], Any],
    registry: RegistryV2Lookup | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DockerDigestResolver:
    """A resolver from the ``docker.hash-lookup`` config block and an ECR client factory."""
    settings = DockerHashLookupSettings.from_config(config)
    registry = registry or RegistryV2Lookup(retries=settings.max_retries)
    lookups: dict[str, DigestLookup] = {
        "dockerhub": registry,
        "ecr-public": registry,
        "generic": registry,
        "ecr": EcrLookup(ecr_client_for_region),
    }
    return DockerDigestResolver(settings, lookups, clock=clock)
