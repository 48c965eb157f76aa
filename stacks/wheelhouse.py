"""Wheelhouses: every wheel a host installs, pinned and hashed, built once and cached.

A wheelhouse is a directory of wheels plus ``requirements.txt``, its manifest: one
``name==version --hash=sha256:...`` line per distribution (a hash per wheel: one per
architecture for compiled ones). Hosts install from it with ``pip install --no-index
--require-hashes`` (``launch_template/host_assets/install_wheelhouse.sh``), after checking
the manifest's own SHA-256 against the value the template carries; so a boot needs
neither PyPI nor a NAT gateway, and a changed wheel or manifest fails the install.

Building needs PyPI (``pip wheel`` turns sdist-only pins such as pyhocon into wheels,
then ``pip download`` fetches each architecture's binary wheels); the result is cached
under :data:`CACHE_DIR`, keyed on the requirements, the pins of
``requirements/constraints.txt``, the target Python and architectures, so a synth with
the cache in place runs no pip and touches no network. ``make wheelhouses`` (part of
``make setup``) builds them; ``python -m stacks.wheelhouse`` does the same.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

REPO = Path(__file__).resolve().parents[1]
CONSTRAINTS = REPO / "requirements" / "constraints.txt"
CACHE_DIR = REPO / "build" / "wheelhouse"
MANIFEST = "requirements.txt"
#: Bump when the build steps change, so old caches are not reused.
BUILD_FORMAT = 1
#: glibc of Amazon Linux 2023 is 2.34: every manylinux tag up to it installs there.
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
ARCHITECTURES = ("x86_64", "aarch64")


class WheelhouseError(RuntimeError):
    """A wheelhouse could not be built (names the pip step and its output)."""


@dataclass(frozen=True)
class Wheelhouse:
    """What to build.

    Attributes:
        name: the cache directory's prefix (``engine``, ``aws-cli``).
        requirements: pinned top-level requirements (``name==version``).
        python: the hosts' CPython, ``major.minor``.
        architectures: ``x86_64`` and/or ``aarch64`` (uname -m spelling).
    """

    name: str
    requirements: tuple[str, ...]
    python: str
    architectures: tuple[str, ...]

    @property
    def key(self) -> str:
        """Hash of everything the content depends on (the cache key)."""
        spec = json.dumps(
            [BUILD_FORMAT, self.name, self.requirements, self.python, self.architectures,
             _pins(CONSTRAINTS)]
        )  # fmt: skip
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    @property
    def directory(self) -> Path:
        """Where the built wheelhouse lives."""
        return CACHE_DIR / f"{self.name}-{self.key}"


def engine_wheelhouse(arch: str) -> Wheelhouse:
    """The engine's dependencies (``runtime/pyproject.toml``) for the engine host's Python.

    ``arch``: ``x86_64``, or ``aarch64``/``arm64`` (``stacks.settings.architecture``).
    """
    arch = "aarch64" if arch == "arm64" else arch
    if arch not in ARCHITECTURES:
        raise WheelhouseError(f"no wheelhouse for architecture {arch!r}")
    meta = tomllib.loads((REPO / "runtime" / "pyproject.toml").read_text())
    return Wheelhouse("engine", tuple(meta["project"]["dependencies"]), "3.11", (arch,))


def aws_cli_wheelhouse() -> Wheelhouse:
    """The AWS CLI (PyPI ``awscli``, the constraints' pin) for Batch hosts of either arch."""
    pin = _pins(CONSTRAINTS).get("awscli")
    if pin is None:
        raise WheelhouseError(f"{CONSTRAINTS} pins no awscli")
    return Wheelhouse("aws-cli", (f"awscli=={pin}",), "3.11", ARCHITECTURES)


def manifest_sha256(directory: Path) -> str:
    """SHA-256 of a built wheelhouse's manifest (what the hosts check first)."""
    return hashlib.sha256((directory / MANIFEST).read_bytes()).hexdigest()


def ensure(house: Wheelhouse) -> Path:
    """The built wheelhouse's directory, building it first if the cache lacks it."""
    target = house.directory
    if (target / MANIFEST).is_file():
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with _lock(CACHE_DIR / f".{house.name}.lock"):
        if (target / MANIFEST).is_file():  # another process built it meanwhile
            return target
        with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=f".{house.name}-") as tmp:
            built = _build(house, Path(tmp))
            built.rename(target)
    return target


def _build(house: Wheelhouse, work: Path) -> Path:
    requirements = work / "top-level.txt"
    requirements.write_text("\n".join(house.requirements) + "\n")
    local, wheels = work / "local", work / "wheels"
    # Every pin as a wheel for this interpreter: sdist-only ones are built here (pure
    # Python), so the per-architecture downloads below can take them from `local`.
    _pip("wheel", "-w", local, "-c", CONSTRAINTS, "-r", requirements)
    nodot = house.python.replace(".", "")
    for arch in house.architectures:
        platforms = [arg for tag in MANYLINUX for arg in ("--platform", f"{tag}_{arch}")]
        _pip(
            "download", "--only-binary=:all:", "--python-version", house.python,
            "--implementation", "cp", "--abi", f"cp{nodot}",
            *platforms, "--find-links", local, "-c", CONSTRAINTS, "-d", wheels,
            "-r", requirements,
        )  # fmt: skip
    (wheels / MANIFEST).write_text(render_manifest(wheels))
    return wheels


def render_manifest(wheels: Path) -> str:
    """``requirements.txt`` with every wheel's hash, grouped by distribution, sorted."""
    hashes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for wheel in sorted(wheels.glob("*.whl")):
        parsed = parse_wheel_filename(wheel.name)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        hashes[(str(parsed[0]), str(parsed[1]))].append(digest)
    lines = []
    for (name, version), digests in sorted(hashes.items()):
        options = " ".join(f"--hash=sha256:{d}" for d in sorted(digests))
        lines.append(f"{name}=={version} {options}")
    return "\n".join(lines) + "\n"


def _pip(*args: str | Path) -> None:
    command = [sys.executable, "-m", "pip", *map(str, args), "--quiet",
               "--disable-pip-version-check"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise WheelhouseError(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")


def _pins(constraints: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in constraints.read_text().splitlines():
        name, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            pins[canonicalize_name(name)] = version.strip()
    return pins


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (parallel test workers synthesize at once)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> None:
    """Build every wheelhouse the kit ships (both architectures), print where."""
    for house in (aws_cli_wheelhouse(), *(engine_wheelhouse(a) for a in ARCHITECTURES)):
        path = ensure(house)
        print(f"{house.name} {','.join(house.architectures)}: {os.path.relpath(path, REPO)}")
    stale = {p for p in CACHE_DIR.glob("*-*") if p.is_dir() and not p.name.startswith(".")} - {
        h.directory for h in (aws_cli_wheelhouse(), *map(engine_wheelhouse, ARCHITECTURES))
    }
    for path in stale:
        shutil.rmtree(path)


if __name__ == "__main__":
    main()
