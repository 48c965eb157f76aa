"""HOCON config with Cromwell's key names."""

from __future__ import annotations

from pathlib import Path

import pytest

from ironside.config import load_settings
from ironside.errors import BadConfig


def test_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """No config: local backend under ./ironside-executions, SQLite there."""
    monkeypatch.delenv("IRONSIDE_CONFIG", raising=False)
    s = load_settings(None)
    assert s.default_backend == "Local"
    local = s.provider()
    assert local.root == "ironside-executions" and local.run_in_container == "auto"
    assert s.database_url == "sqlite:///ironside-executions/ironside.sqlite"
    assert local.job_limit() >= 2


def test_cromwell_config_keys_and_jdbc(tmp_path: Path) -> None:
    """A Cromwell-style config: providers, limits, default runtime, jdbc MySQL URL, unknown keys."""
    conf = tmp_path / "cromwell.conf"
    conf.write_text(
        """
include required(classpath("application"))
webservice { port = 8000 }
backend {
  default = "Local"
  providers {
    Local {
      actor-factory = "cromwell.backend.impl.sfs.config.ConfigBackendLifecycleActorFactory"
      config {
        root = "/data/cromwell-executions"
        concurrent-job-limit = 7
        run-in-container = "never"
        default-runtime-attributes { maxRetries = 2, docker = "ubuntu:22.04" }
        some-odd-key = 1
      }
    }
  }
}
call-caching { enabled = true }
database {
  profile = "slick.jdbc.MySQLProfile$"
  db {
    driver = "com.mysql.cj.jdbc.Driver"
    url = "jdbc:mysql://db.example:3306/cromwell?rewriteBatchedStatements=true"
    user = "crom"
    password = "p@ss"
  }
}
totally-new-section { a = 1 }
"""
    )
    s = load_settings(str(conf))
    local = s.provider("Local")
    assert local.root == "/data/cromwell-executions"
    assert local.job_limit() == 7
    assert local.run_in_container == "never"
    assert local.default_runtime_attributes == {"maxRetries": 2, "docker": "ubuntu:22.04"}
    assert s.call_caching_enabled is True
    assert s.database_url == "mysql+pymysql://crom:p%40ss@db.example:3306/cromwell"
    assert any("totally-new-section" in w for w in s.warnings)
    assert any("some-odd-key" in w for w in s.warnings)


def test_env_var_and_wrong_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """IRONSIDE_CONFIG is read; a value of the wrong type is a BadConfig naming the key."""
    conf = tmp_path / "a.conf"
    conf.write_text('database.url = "sqlite:////tmp/x.sqlite"\n')
    monkeypatch.setenv("IRONSIDE_CONFIG", str(conf))
    assert load_settings(None).database_url == "sqlite:////tmp/x.sqlite"
    conf.write_text("backend.providers.Local.config.run-in-container = sometimes\n")
    with pytest.raises(BadConfig, match="run-in-container"):
        load_settings(str(conf))
    conf.write_text('backend.default = "Nope"\n')
    with pytest.raises(BadConfig, match="Nope"):
        load_settings(str(conf))
    with pytest.raises(BadConfig, match="cannot read"):
        load_settings(str(tmp_path / "missing.conf"))


def test_store_patience_is_a_duration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``system.store-patience``: 10 minutes by default, any HOCON duration, else named."""
    monkeypatch.delenv("IRONSIDE_CONFIG", raising=False)
    assert load_settings(None).store_patience == 600.0
    conf = tmp_path / "p.conf"
    conf.write_text("system { store-patience = 90 seconds }\n")
    assert load_settings(str(conf)).store_patience == 90.0
    conf.write_text('system { store-patience = "a while" }\n')
    with pytest.raises(BadConfig, match=r"p\.conf: system\.store-patience: not a duration"):
        load_settings(str(conf))
