"""The engine's patience with a store that does not answer: retry, then pause, then go on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from ironside.engine.scheduler import StoreHealth
from ironside.engine.service import WorkflowService


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _down() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("(2003) Can't connect to MySQL server"))


def test_pauses_beyond_patience_and_says_so_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    health = StoreHealth(patience=120.0, clock=clock)
    caplog.set_level(logging.WARNING, logger="ironside.engine")
    delays = []
    for _ in range(40):  # 40 failures, 5 s apart: 200 s down
        delays.append(health.failed(_down()))
        clock.now += 5.0
    assert max(delays) == health.max_delay and not health.healthy
    assert health.paused
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 5  # at 0 s, 60 s, 120 s, when paused (125 s), 185 s
    assert "the engine retries" in lines[0] and "Can't connect" in lines[0]
    assert "beyond system.store-patience (120 s): the engine is paused" in lines[3]
    health.ok()
    assert health.healthy and not health.paused
    assert "available again after 200 s" in caplog.records[-1].getMessage()


def test_a_paused_engine_pings_instead_of_ticking_and_resumes(tmp_path: Path) -> None:
    """Paused, the loop neither polls the backend nor ticks: it pings until an answer."""
    from ironside.assembly import build_service
    from ironside.config import load_settings

    conf = tmp_path / "c.conf"
    db = tmp_path / "s.sqlite"
    conf.write_text(f'database.db.url = "sqlite:///{db}"\nsystem.store-patience = 1 second\n')
    service: WorkflowService = build_service(load_settings(str(conf)))
    engine = service.engine
    clock = Clock()
    engine.store_health.clock = clock
    engine.store_health.max_delay = 0.0
    pings = []
    real_ping = engine.store.ping

    def ping() -> None:
        pings.append(clock.now)
        clock.now += 1.0
        if len(pings) < 3:
            raise _down()
        real_ping()

    def no_tick() -> None:
        raise AssertionError("ticked while paused")

    engine.store.ping = ping  # type: ignore[method-assign]
    engine._tick = no_tick  # type: ignore[method-assign]
    engine.store_health.failed(_down())
    clock.now += 2.0  # down for longer than the patience
    assert service.health()["systems"]["Engine Database"]["messages"][0].startswith(
        "the engine is paused until the store answers"
    )
    engine.loop(lambda: engine.store_health.healthy)
    assert len(pings) == 3 and engine.store_health.healthy
    service.close()
