"""Issue 17.6: what the hosts install at boot ships as kit assets, checked by SHA-256."""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stacks import wheelhouse
from stacks.artifacts import ENGINE_ARTIFACTS_DIR
from stacks.aws_cli_bundle import SUMS, bundle_name
from stacks.constructs.rds_ca_asset import rds_ca_bundle
from stacks.constructs.wheel_asset import stage_wheel
from stacks.engine import RUNTIME_DIR
from stacks.settings import Settings, SettingsError
from tests.stacks.conftest import Synthesized
from tests.stacks.helpers import flatten, statements
from tests.stacks.synth import build

#: The only URLs the engine host's scripts may call: the instance metadata service and
#: the engine's own API on loopback.
LOCAL_URL = re.compile(r"^https?://(169\.254\.169\.254|127\.0\.0\.1)[:/]")
URL = re.compile(r"\b(?:https?|ftp)://[^\s\"'}]+")


def _user_data(synth: Synthesized, role: str) -> str:
    [template] = synth.resources(role, "AWS::EC2::LaunchTemplate").values()
    return flatten(template["Properties"]["LaunchTemplateData"]["UserData"])


def _commands(script: str) -> list[str]:
    joined = script.replace("\\\n", " ")
    return [line for line in joined.splitlines() if not line.lstrip().startswith("#")]


def test_engine_host_boot_downloads_nothing_from_the_internet(synth: Synthesized) -> None:
    texts = {"user data": _user_data(synth, "engine")}
    texts |= {p.name: p.read_text() for p in ENGINE_ARTIFACTS_DIR.glob("*.sh")}
    assert "install_wheelhouse.sh" in texts
    for name, text in texts.items():
        for line in _commands(text):
            for url in URL.findall(line):
                assert LOCAL_URL.match(url), (name, url)
            assert not re.search(r"\bwget\b", line), (name, line)
            if re.search(r"-m pip\b|\bpip3? (install|download)", line):
                assert "--no-index" in line and "--require-hashes" in line, (name, line)


def test_engine_template_carries_each_assets_sha256(synth: Synthesized) -> None:
    text = _user_data(synth, "engine")
    wheel = stage_wheel(RUNTIME_DIR)
    house = wheelhouse.ensure(wheelhouse.engine_wheelhouse("x86_64"))
    ca = hashlib.sha256(rds_ca_bundle().read_bytes()).hexdigest()
    assert f"IRONSIDE_WHEEL_NAME={wheel.name}\n" in text
    assert f"IRONSIDE_WHEEL_SHA256={hashlib.sha256(wheel.read_bytes()).hexdigest()}\n" in text
    assert f"IRONSIDE_WHEELHOUSE_SHA256={wheelhouse.manifest_sha256(house)}\n" in text
    assert f"IRONSIDE_RDS_CA_SHA256={ca}\n" in text
    for key in ("IRONSIDE_WHEEL_URL", "IRONSIDE_WHEELHOUSE_URL", "IRONSIDE_RDS_CA_URL"):
        assert f"{key}=s3://" in text
    # Each asset is in the assembly with the content its checksum names.
    staged = _staged_files(synth, "engine")
    assert any((d / wheel.name).is_file() for d in staged)
    assert any(_manifest_sha(d) == wheelhouse.manifest_sha256(house) for d in staged)
    assert any(d.is_file() and d.read_bytes() == rds_ca_bundle().read_bytes() for d in staged)
    [read] = [s for s in statements(synth.resources("engine", "AWS::IAM::Policy"))
              if s.get("Sid") == "ReadAssets"]  # fmt: skip
    assert len(read["Resource"]) == 4  # wheel, wheelhouse, CA bundle, scripts


def test_batch_template_carries_the_aws_cli_wheelhouse(synth: Synthesized) -> None:
    text = _user_data(synth, "batch")
    house = wheelhouse.ensure(wheelhouse.aws_cli_wheelhouse())
    assert f"IRONSIDE_AWS_CLI_SHA256={wheelhouse.manifest_sha256(house)}\n" in text
    assert "IRONSIDE_AWS_CLI_URL='s3://" in text
    assert any(
        _manifest_sha(d) == wheelhouse.manifest_sha256(house) for d in _staged_files(synth, "batch")
    )
    [read] = [s for s in statements(synth.resources("batch", "AWS::IAM::Policy"))
              if s.get("Sid") == "ReadHostAssets"]  # fmt: skip
    assert len(read["Resource"]) == 2  # host scripts, AWS CLI wheelhouse


def _staged_files(synth: Synthesized, role: str) -> list[Path]:
    manifest = json.loads((synth.outdir / f"{synth.settings.name(role)}.assets.json").read_text())
    return [synth.outdir / entry["source"]["path"] for entry in manifest["files"].values()]


def _manifest_sha(directory: Path) -> str | None:
    path = directory / wheelhouse.MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def test_the_aws_cli_wheelhouse_covers_both_architectures() -> None:
    house = wheelhouse.ensure(wheelhouse.aws_cli_wheelhouse())
    names = [p.name for p in house.glob("*.whl")]
    compiled = [n for n in names if not n.endswith("-none-any.whl")]
    assert compiled and all(
        any(f"_{arch}" in n for n in compiled) for arch in wheelhouse.ARCHITECTURES
    )
    manifest = (house / wheelhouse.MANIFEST).read_text().splitlines()
    assert all(re.fullmatch(r"\S+==\S+( --hash=sha256:[0-9a-f]{64})+", line) for line in manifest)
    assert len(manifest) == len({n.split("-")[0].lower() for n in names})


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the wheelhouse here is x86_64")
def test_the_engine_installs_offline_as_bootstrap_does(tmp_path: Path) -> None:
    """bootstrap.sh's install: a venv, the wheelhouse by its manifest, the engine wheel by
    its SHA-256; then the engine's CLI runs."""
    bootstrap = (ENGINE_ARTIFACTS_DIR / "bootstrap.sh").read_text()
    assert 'bash "$HERE/install_wheelhouse.sh" /opt/ironside/venv/bin/python' in bootstrap
    assert '--hash=sha256:$IRONSIDE_WHEEL_SHA256"' in bootstrap
    house = wheelhouse.ensure(wheelhouse.engine_wheelhouse("x86_64"))
    wheel = stage_wheel(RUNTIME_DIR)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    pins = tmp_path / "engine.txt"
    pins.write_text(f"ironside @ file://{wheel} --hash=sha256:{digest}\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        ["bash", str(ENGINE_ARTIFACTS_DIR / "install_wheelhouse.sh"), str(venv / "bin/python"),
         str(house), wheelhouse.manifest_sha256(house), "-r", str(pins)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    run = subprocess.run(
        [str(venv / "bin/ironside"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "server" in run.stdout
    # Every module imports: no dependency the wheel does not declare (httpx once was one).
    every = subprocess.run(
        [str(venv / "bin/python"), "-I", "-c", IMPORT_EVERY_MODULE],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert every.returncode == 0, every.stderr
    assert int(every.stdout) > 50


#: Imports every module of the installed engine (migration scripts run under alembic only).
IMPORT_EVERY_MODULE = """
import importlib, pkgutil, ironside
names = [m.name for m in pkgutil.walk_packages(ironside.__path__, "ironside.")
         if not m.name.startswith("ironside.store.migrations.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_a_built_wheelhouse_is_reused_without_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    house = wheelhouse.aws_cli_wheelhouse()
    built = wheelhouse.ensure(house)

    def no_pip(*args: object) -> None:
        raise AssertionError(f"pip ran: {args}")

    monkeypatch.setattr(wheelhouse, "_pip", no_pip)
    assert wheelhouse.ensure(house) == built


def test_the_cache_key_follows_the_pins() -> None:
    house = wheelhouse.aws_cli_wheelhouse()
    other = wheelhouse.Wheelhouse(house.name, ("awscli==0.0.1",), house.python, house.architectures)
    assert other.key != house.key
    assert wheelhouse.engine_wheelhouse("arm64") == wheelhouse.engine_wheelhouse("aarch64")
    with pytest.raises(wheelhouse.WheelhouseError, match="riscv64"):
        wheelhouse.engine_wheelhouse("riscv64")


def test_the_rds_ca_bundle_is_the_packages_certificates() -> None:
    context = ssl.create_default_context(cafile=str(rds_ca_bundle()))
    certificates = context.get_ca_certs()
    assert len(certificates) >= 100
    assert any("Amazon RDS" in str(cert["subject"]) for cert in certificates)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_engine_host_scripts_pass_shellcheck() -> None:
    scripts = sorted(str(p) for p in ENGINE_ARTIFACTS_DIR.glob("*.sh"))
    assert len(scripts) == 4
    result = subprocess.run(
        ["shellcheck", "-x", "-s", "bash", *scripts],
        capture_output=True, text=True, timeout=120, cwd=ENGINE_ARTIFACTS_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def _bundle(directory: Path, arches: tuple[str, ...] = ("x86_64",)) -> Path:
    """A directory shaped like the operator's: bundles (contents irrelevant here), sums."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for arch in arches:
        path = directory / bundle_name(arch)
        path.write_bytes(f"bundle {arch}".encode())
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")
    (directory / SUMS).write_text("".join(lines))
    return directory


def test_an_operators_aws_cli_bundle_replaces_the_wheelhouse(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "bundle")
    app, platform_ = build(str(tmp_path / "out"), {"ironside:awsCliBundleDir": str(bundle)})
    app.synth()
    batch = json.loads(
        (tmp_path / "out" / f"{platform_.batch.stack_name}.template.json").read_text()
    )
    [template] = [r for r in batch["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    text = flatten(template["Properties"]["LaunchTemplateData"]["UserData"])
    sums = hashlib.sha256((bundle / SUMS).read_bytes()).hexdigest()
    assert f"IRONSIDE_AWS_CLI_SHA256={sums}\n" in text
    assert "IRONSIDE_AWS_CLI_KIND=bundle\n" in text
    assets = json.loads(
        (tmp_path / "out" / f"{platform_.batch.stack_name}.assets.json").read_text()
    )
    staged = [tmp_path / "out" / e["source"]["path"] for e in assets["files"].values()]
    assert any((d / bundle_name("x86_64")).is_file() for d in staged)
    assert not any((d / wheelhouse.MANIFEST).is_file() for d in staged)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: (d / SUMS).unlink(), "has no SHA256SUMS"),
        (lambda d: (d / bundle_name("x86_64")).write_bytes(b"other"), "does not match"),
        (lambda d: (d / bundle_name("x86_64")).unlink(), "is missing"),
    ],
)
def test_a_bundle_dir_that_does_not_check_out_is_refused(
    tmp_path: Path, change: Any, problem: str
) -> None:
    bundle = _bundle(tmp_path)
    change(bundle)
    with pytest.raises(SettingsError, match=problem) as error:
        Settings.from_mapping({"awsCliBundleDir": str(bundle)})
    assert "'ironside:awsCliBundleDir'" in str(error.value)


def test_a_bundle_dir_needs_every_batch_architecture(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    with pytest.raises(SettingsError, match="does not list awscli-exe-linux-aarch64.zip"):
        Settings.from_mapping({"awsCliBundleDir": str(bundle), "gpuInstanceTypes": "g5g"})
    arm = _bundle(tmp_path / "arm", ("aarch64",))
    settings = Settings.from_mapping({"awsCliBundleDir": str(arm), "batchInstanceTypes": "m7g"})
    assert settings.aws_cli_bundle_dir == str(arm)
