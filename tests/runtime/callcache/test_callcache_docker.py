"""Docker digest lookup against a registry double on 127.0.0.1 and ECR on moto."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from ironside.callcache.docker import (
    MANIFEST_MEDIA_TYPES,
    DigestFound,
    DigestUnavailable,
    DockerDigestResolver,
    DockerHashLookupSettings,
    EcrLookup,
    ImageRef,
    LookupFailed,
    RegistryV2Lookup,
    build_resolver,
)
from ironside.config import parse_duration
from ironside.errors import BadConfig

pytestmark = pytest.mark.timeout(60)

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPES[1]}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
TOKEN = "tok-123"


class FakeRegistry:
    """State of the registry double: its images, what it saw, how it misbehaves."""

    def __init__(self) -> None:
        self.images = {("library/ubuntu", "22.04"), ("team/tool", "1.0"), ("pub/img", "v1")}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.send_digest_header = True
        self.unavailable_first = 0
        self.port = 0

    def paths(self, method: str) -> list[str]:
        return [path for m, path, _ in self.requests if m == method]


def make_handler(state: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self._manifest(send_body=False)

        def do_GET(self) -> None:
            if self.path.startswith("/token"):
                self._token()
            else:
                self._manifest(send_body=True)

        def _record(self, method: str) -> None:
            state.requests.append((method, self.path, dict(self.headers.items())))

        def _token(self) -> None:
            self._record("GET")
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            assert query["service"] == ["fake-registry"]
            body = json.dumps({"token": TOKEN}).encode()
            self._reply(200, {"Content-Type": "application/json"}, body)

        def _manifest(self, send_body: bool) -> None:
            self._record(self.command)
            if state.unavailable_first > 0:
                state.unavailable_first -= 1
                self._reply(503, {}, b"")
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                realm = f"http://127.0.0.1:{state.port}/token"
                challenge = f'Bearer realm="{realm}",service="fake-registry"'
                self._reply(401, {"WWW-Authenticate": challenge}, b"")
                return
            parts = self.path.split("/")  # /v2/<name...>/manifests/<tag>
            name, tag = "/".join(parts[2:-2]), parts[-1]
            if (name, tag) not in state.images:
                self._reply(404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                return
            headers = {"Content-Type": MANIFEST_MEDIA_TYPES[1]}
            if state.send_digest_header:
                headers["Docker-Content-Digest"] = DIGEST
            self._reply(200, headers, MANIFEST if send_body else b"", len(MANIFEST))

        def _reply(
            self, status: int, headers: dict[str, str], body: bytes, length: int | None = None
        ) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    state = FakeRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lookup_for(state: FakeRegistry, **kwargs: Any) -> RegistryV2Lookup:
    host = f"127.0.0.1:{state.port}"
    return RegistryV2Lookup(
        timeout=5,
        plain_http=[host],
        endpoint={"docker.io": host, "public.ecr.aws": host},
        sleep=lambda _: None,
        **kwargs,
    )


def resolver_for(
    state: FakeRegistry, clock: Clock, settings: DockerHashLookupSettings | None = None
) -> DockerDigestResolver:
    lookup = lookup_for(state)
    lookups = {"dockerhub": lookup, "ecr-public": lookup, "generic": lookup}
    return DockerDigestResolver(settings or DockerHashLookupSettings(), lookups, clock=clock)


def test_docker_hub_token_flow_head_and_ttl_cache(registry: FakeRegistry) -> None:
    clock = Clock()
    resolver = resolver_for(registry, clock)
    try:
        result = resolver.resolve("ubuntu:22.04")
        assert result == DigestFound("ubuntu:22.04", DIGEST, f"ubuntu@{DIGEST}")
        token_requests = [p for p in registry.paths("GET") if p.startswith("/token")]
        assert len(token_requests) == 1
        assert "scope=repository%3Alibrary%2Fubuntu%3Apull" in token_requests[0]
        assert registry.paths("HEAD") == ["/v2/library/ubuntu/manifests/22.04"] * 2
        accept = registry.requests[-1][2]["Accept"]
        assert all(media_type in accept for media_type in MANIFEST_MEDIA_TYPES)
        assert not [p for p in registry.paths("GET") if p.startswith("/v2/")]

        clock.now += 19 * 60
        assert resolver.resolve("ubuntu:22.04") == result
        assert len(registry.requests) == 3  # served from the cache

        clock.now += 2 * 60  # past the 20 minute TTL
        assert resolver.resolve("ubuntu:22.04") == result
        assert len(registry.requests) == 4  # one HEAD, token reused
    finally:
        resolver.close()


def test_generic_registry_and_ecr_public(registry: FakeRegistry) -> None:
    resolver = resolver_for(registry, Clock())
    try:
        generic = f"127.0.0.1:{registry.port}/team/tool:1.0"
        assert ImageRef.parse(generic).kind == "generic"
        assert resolver.resolve(generic) == DigestFound(
            generic, DIGEST, f"127.0.0.1:{registry.port}/team/tool@{DIGEST}"
        )
        assert ImageRef.parse("public.ecr.aws/pub/img:v1").kind == "ecr-public"
        public = resolver.resolve("public.ecr.aws/pub/img:v1")
        assert isinstance(public, DigestFound) and public.digest == DIGEST
        assert "/v2/pub/img/manifests/v1" in registry.paths("HEAD")
    finally:
        resolver.close()


def test_get_and_hash_the_manifest_when_head_has_no_digest(registry: FakeRegistry) -> None:
    registry.send_digest_header = False
    assert lookup_for(registry).digest(ImageRef.parse("ubuntu:22.04")) == DIGEST
    assert "/v2/library/ubuntu/manifests/22.04" in registry.paths("GET")


def test_unknown_tag_is_unavailable_and_remembered_for_failure_ttl(
    registry: FakeRegistry,
) -> None:
    clock = Clock()
    resolver = resolver_for(registry, clock)
    try:
        result = resolver.resolve("ubuntu:nope")
        assert isinstance(result, DigestUnavailable)
        assert "not found" in result.reason and "ubuntu:nope" in result.reason
        before = len(registry.paths("HEAD"))
        assert resolver.resolve("ubuntu:nope") == result
        assert len(registry.paths("HEAD")) == before
        clock.now += 61
        assert isinstance(resolver.resolve("ubuntu:nope"), DigestUnavailable)
        assert len(registry.paths("HEAD")) > before
    finally:
        resolver.close()


def test_a_slow_lookup_makes_the_call_wait_at_most_timeout() -> None:
    release = threading.Event()

    class Slow:
        def digest(self, ref: ImageRef) -> str:
            release.wait(10)
            return "sha256:" + "1" * 64

    settings = DockerHashLookupSettings(timeout=0.05)
    resolver = DockerDigestResolver(settings, {"dockerhub": Slow()}, clock=Clock())
    try:
        result = resolver.resolve("ubuntu:slow")
        assert isinstance(result, DigestUnavailable) and "longer than 0.05s" in result.reason
        assert resolver.resolve("ubuntu:slow") == result  # remembered, no second wait
    finally:
        release.set()
        resolver.close()


def test_retries_unavailable_registry(registry: FakeRegistry) -> None:
    registry.unavailable_first = 2
    sleeps: list[float] = []
    lookup = lookup_for(registry)
    lookup.sleep = sleeps.append
    assert lookup.digest(ImageRef.parse("ubuntu:22.04")) == DIGEST
    assert sleeps == [1.0, 2.0]


def test_unreachable_registry_is_unavailable() -> None:
    lookup = RegistryV2Lookup(timeout=2, plain_http=["127.0.0.1:9"], retries=0)
    with pytest.raises(LookupFailed, match="cannot reach"):
        lookup.digest(ImageRef.parse("127.0.0.1:9/x/y:1"))


def test_pinned_images_are_never_looked_up(registry: FakeRegistry) -> None:
    settings = DockerHashLookupSettings(enabled=False)
    resolver = resolver_for(registry, Clock(), settings)
    try:
        pinned = f"ubuntu:22.04@{DIGEST}"
        assert resolver.resolve(pinned) == DigestFound(pinned, DIGEST, f"ubuntu@{DIGEST}")
        floating = resolver.resolve("ubuntu:22.04")
        assert isinstance(floating, DigestUnavailable) and "disabled" in floating.reason
        assert registry.requests == []
    finally:
        resolver.close()


class BlockingLookup:
    """A lookup that needs ``parties`` concurrent callers to proceed and records concurrency."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=10)
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def digest(self, ref: ImageRef) -> str:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.barrier.wait()
        finally:
            with self.lock:
                self.running -= 1
        return "sha256:" + hashlib.sha256(ref.tag.encode()).hexdigest()


@pytest.mark.parametrize("threads", [1, 2])
def test_num_threads_bounds_concurrent_ecr_lookups(threads: int) -> None:
    settings = DockerHashLookupSettings.from_config({"ecr": {"num-threads": threads}})
    lookup = BlockingLookup(parties=threads)
    resolver = DockerDigestResolver(settings, {"ecr": lookup}, clock=Clock())
    try:
        images = [f"123456789012.dkr.ecr.us-east-1.amazonaws.com/r:{n}" for n in range(4)]
        results = resolver.resolve_many(images + images[:1])
        assert resolver.workers("ecr") == threads
        assert lookup.max_running == threads
        assert all(isinstance(r, DigestFound) for r in results.values())
        assert len(results) == 4
    finally:
        resolver.close()


def test_kind_without_threads_is_unavailable() -> None:
    settings = DockerHashLookupSettings.from_config({"ecr-public": {"num-threads": 0}})
    resolver = DockerDigestResolver(settings, {"ecr-public": BlockingLookup(1)})
    try:
        result = resolver.resolve("public.ecr.aws/a/b:1")
        assert isinstance(result, DigestUnavailable) and "ecr-public" in result.reason
        assert resolver.workers("ecr-public") == 0
    finally:
        resolver.close()


def test_ecr_lookup_with_moto(aws_env: None) -> None:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("ecr", region_name="us-west-2")
        client.create_repository(repositoryName="team/tool")
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPES[1],
            "config": {"digest": "sha256:" + "c" * 64, "size": 1, "mediaType": "x"},
            "layers": [{"digest": "sha256:" + "d" * 64, "size": 2, "mediaType": "y"}],
        }
        client.put_image(
            repositoryName="team/tool", imageManifest=json.dumps(manifest), imageTag="v1"
        )
        expected = client.describe_images(repositoryName="team/tool")["imageDetails"][0][
            "imageDigest"
        ]
        regions: list[str] = []

        def client_for(region: str) -> Any:
            regions.append(region)
            return client

        resolver = build_resolver({"ecr": {"num-threads": 2}}, client_for, clock=Clock())
        try:
            host = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
            found = resolver.resolve(f"{host}/team/tool:v1")
            assert found == DigestFound(
                f"{host}/team/tool:v1", expected, f"{host}/team/tool@{expected}"
            )
            assert regions == ["us-west-2"]
            missing = resolver.resolve(f"{host}/team/tool:v2")
            assert isinstance(missing, DigestUnavailable) and "ImageNotFound" in missing.reason
            no_repo = resolver.resolve(f"{host}/other:v1")
            assert isinstance(no_repo, DigestUnavailable)
            assert "RepositoryNotFound" in no_repo.reason
        finally:
            resolver.close()
    with pytest.raises(LookupFailed):
        EcrLookup(lambda _: None).digest(ImageRef.parse("quay.io/a/b:1"))


def test_image_reference_parsing() -> None:
    ref = ImageRef.parse("ubuntu")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "docker.io",
        "library/ubuntu",
        "latest",
        None,
    )
    ref = ImageRef.parse("localhost:5000/a/b:1.2")
    assert (ref.registry, ref.repository, ref.tag, ref.name) == (
        "localhost:5000",
        "a/b",
        "1.2",
        "localhost:5000/a/b",
    )
    assert ImageRef.parse("broadinstitute/gatk:4.5").repository == "broadinstitute/gatk"
    assert ImageRef.parse("index.docker.io/library/x:1").kind == "dockerhub"
    assert ImageRef.parse("quay.io/biocontainers/samtools:1.9").kind == "generic"
    with pytest.raises(ValueError):
        ImageRef.parse("ubuntu@md5:zz")


def test_settings_from_config() -> None:
    settings = DockerHashLookupSettings.from_config(
        {
            "enabled": "false",
            "cache-entry-ttl": "5 minutes",
            "cache-size": 3,
            "ecr": {"num-threads": 4},
            "ecr-public": {"num-threads": "1"},
            "failure-ttl": "2 minutes",
            "timeout": "5s",
        }
    )
    assert not settings.enabled
    assert settings.failure_ttl == 120.0 and settings.timeout == 5.0
    assert settings.cache_entry_ttl == 300.0
    assert settings.num_threads["ecr"] == 4 and settings.num_threads["ecr-public"] == 1
    assert settings.num_threads["dockerhub"] == 10
    assert parse_duration("30s") == 30.0 and parse_duration(1500) == 1.5
    with pytest.raises(BadConfig, match="ecr.num-threads"):
        DockerHashLookupSettings.from_config({"ecr": {"num-threads": "many"}})
    with pytest.raises(BadConfig):
        parse_duration("soon")


def test_credentials_are_sent_to_the_token_endpoint(registry: FakeRegistry) -> None:
    import base64

    lookup = lookup_for(registry, credentials=lambda r: ("me", "pw") if r == "docker.io" else None)
    assert lookup.digest(ImageRef.parse("ubuntu:22.04")) == DIGEST
    token_headers = [h for m, p, h in registry.requests if p.startswith("/token")]
    expected = "Basic " + base64.b64encode(b"me:pw").decode()
    assert token_headers[0]["Authorization"] == expected
    manifest_auth = [
        h.get("Authorization") for m, p, h in registry.requests if p.startswith("/v2/")
    ]
    assert manifest_auth == [None, f"Bearer {TOKEN}"]
