"""Server settings from config, environment and command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ironside.errors import BadConfig
from ironside.server.cli import add_server_command, load_server_settings
from ironside.server.settings import ServerSettings, settings_from_config


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_server_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["server", *argv])


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRONSIDE_CONFIG", raising=False)
    monkeypatch.delenv("IRONSIDE_SERVER_TOKEN", raising=False)
    s = load_server_settings(_args([]))
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.auth_token is None and s.max_request_bytes == 100 * 1024 * 1024
    assert not s.url_allowed("https", "example.org")


def test_config_file_then_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRONSIDE_SERVER_TOKEN", raising=False)
    conf = tmp_path / "app.conf"
    conf.write_text(
        """
webservice { port = 9001, interface = "0.0.0.0" }
ironside.server {
  auth-token = "tok"
  max-request-size = 1000
  workflow-url-schemes = ["https"]
  workflow-url-hosts = ["raw.githubusercontent.com"]
  dependencies-zip-max-files = 5
  max-concurrent-workflows = 7
}
"""
    )
    s = load_server_settings(_args(["--config", str(conf)]))
    assert (s.host, s.port, s.auth_token) == ("0.0.0.0", 9001, "tok")
    assert s.max_request_bytes == 1000 and s.zip_max_files == 5 and s.max_workflows == 7
    assert s.url_allowed("https", "raw.githubusercontent.com")
    assert not s.url_allowed("http", "raw.githubusercontent.com")
    assert not s.url_allowed("https", "169.254.169.254")
    s2 = load_server_settings(_args(["--config", str(conf), "--host", "127.0.0.1", "--port", "0"]))
    assert (s2.host, s2.port) == ("127.0.0.1", 0)


@pytest.mark.parametrize(
    "block",
    [{"port": "eighty"}, {"max-request-size": -1}, {"workflow-url-hosts": [1]}, {"auth-token": 5}],
)
def test_bad_values_are_bad_config(block: dict[str, object]) -> None:
    with pytest.raises(BadConfig):
        settings_from_config(block, env={})


def test_wildcard_host() -> None:
    s = ServerSettings(workflow_url_schemes=("https",), workflow_url_hosts=("*",))
    assert s.url_allowed("HTTPS", "anything.example")


def test_bad_config_exits_2_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ironside.server.cli import run_server

    broken = tmp_path / "broken.conf"
    broken.write_text("ironside.server { port = [ }")
    assert run_server(_args(["--config", str(broken)])) == 2
    assert "broken.conf" in capsys.readouterr().err
    wrong = tmp_path / "wrong.conf"
    wrong.write_text('ironside.server { max-request-size = "lots" }')
    assert run_server(_args(["--config", str(wrong)])) == 2
    assert "max-request-size" in capsys.readouterr().err


def test_unreachable_database_exits_2_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ironside.server.cli import run_server

    conf = tmp_path / "db.conf"
    conf.write_text('database { url = "mysql+pymysql://u:hunter2@127.0.0.1:1/nope" }')
    assert run_server(_args(["--config", str(conf)])) == 2
    err = capsys.readouterr().err
    assert "cannot open" in err and "hunter2" not in err


def test_the_example_config_is_safe_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    from ironside.config import load_settings

    monkeypatch.delenv("IRONSIDE_SERVER_TOKEN", raising=False)
    example = Path(__file__).resolve().parents[3] / "examples" / "server.conf"
    s = load_server_settings(_args(["--config", str(example)]))
    assert (s.host, s.port, s.auth_token) == ("127.0.0.1", 8000, None)
    assert s.workflow_url_schemes == () and s.max_request_bytes == 100 * 1024 * 1024
    assert load_settings(str(example)).warnings == ()
