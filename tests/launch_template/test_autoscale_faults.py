"""The fault table: in every case the daemon keeps running, logs why, leaks no volume."""

from __future__ import annotations

import logging

import pytest

from launch_template.host_assets.ebs_autoscale.daemon import Daemon, GrowthFailed
from launch_template.host_assets.ebs_autoscale.imds import Imds

from .conftest import Env, unreachable_endpoint


def _messages(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def _ready(env: Env, **overrides: object) -> Daemon:
    """A daemon with its file system made, usage past the threshold."""
    daemon = env.daemon(env.config(**overrides))
    daemon.init()
    env.host.fill_to(90)
    env.faulty.calls.clear()
    return daemon


def _keeps_running_then_grows(env: Env, daemon: Daemon, count_before: int) -> None:
    """The loop survives more iterations, and growth works once the fault is gone."""
    daemon.run(lambda: False, max_iterations=2)
    env.faulty.stuck_attaching = env.faulty.stuck_creating = False
    env.faulty.throttle.clear()
    env.faulty.taken_devices.clear()
    daemon.run(lambda: False, max_iterations=1)
    assert daemon.state.count == count_before + 1
    env.assert_no_unattached_volume()


def test_attach_times_out(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _ready(env)
    env.faulty.stuck_attaching = True
    with caplog.at_level(logging.INFO):
        daemon.step()
    assert "timed out after 120 s waiting to be attached (state in-use)" in _messages(caplog)
    assert "detach_volume" in env.faulty.calls and "delete_volume" in env.faulty.calls
    assert daemon.state.count == 1 and len(env.own_volumes()) == 1
    env.assert_no_unattached_volume()
    _keeps_running_then_grows(env, daemon, 1)


def test_throttling_backs_off_with_jitter_then_succeeds(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = _ready(env)
    env.faulty.throttle = {"create_volume": 3, "attach_volume": 2}
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert daemon.state.count == 2
    assert env.faulty.calls.count("create_volume") == 4
    assert env.faulty.calls.count("attach_volume") == 3
    assert "event=retry call=CreateVolume code=RequestLimitExceeded attempt=1" in _messages(caplog)
    assert env.jitter[:3] == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0)]
    env.assert_no_unattached_volume()


def test_persistent_throttling_gives_up_and_retries_next_time(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = _ready(env)
    env.faulty.throttle = {"create_volume": 1000}
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert env.faulty.calls.count("create_volume") == 10
    assert "CreateVolume: gave up after 10 attempts (RequestLimitExceeded" in _messages(caplog)
    assert max(high for _, high in env.jitter) == 30.0
    assert len(env.own_volumes()) == 1
    _keeps_running_then_grows(env, daemon, 1)


def test_throttled_cleanup_is_retried_until_the_volume_is_gone(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = _ready(env)
    env.faulty.stuck_attaching = True
    env.faulty.throttle = {"delete_volume": 1000}
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert "event=cleanup_deferred" in _messages(caplog)
    assert len(daemon.state.pending_cleanup) == 1
    env.faulty.throttle.clear()
    env.faulty.stuck_attaching = False
    env.host.fill_to(10)
    daemon.step()
    assert daemon.state.pending_cleanup == set()
    assert len(env.own_volumes()) == 1
    env.assert_no_unattached_volume()


def test_volume_stuck_in_creating(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _ready(env)
    env.faulty.stuck_creating = True
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert "timed out after 300 s waiting to be available (state creating)" in _messages(caplog)
    assert "delete_volume" in env.faulty.calls
    assert len(env.own_volumes()) == 1
    env.assert_no_unattached_volume()
    _keeps_running_then_grows(env, daemon, 1)


def test_device_name_already_taken(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _ready(env)
    env.faulty.taken_devices = {"/dev/xvdbb"}
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert "event=device_taken" in _messages(caplog)
    devices = sorted(v.device for v in daemon.state.volumes.values())
    assert devices == ["/dev/xvdba", "/dev/xvdbc"]
    env.assert_no_unattached_volume()


def test_every_device_name_taken(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _ready(env)
    env.faulty.taken_devices = set(daemon.config.device_names)
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert "no free device name" in _messages(caplog)
    assert len(env.own_volumes()) == 1
    env.assert_no_unattached_volume()
    _keeps_running_then_grows(env, daemon, 1)


def test_limits_reached(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _ready(env, limits={"max_volume_count": 1})
    with caplog.at_level(logging.WARNING):
        daemon.run(lambda: False, max_iterations=3)
    assert "event=limit_reached reason=max_volume_count 1 reached" in _messages(caplog)
    assert "create_volume" not in env.faulty.calls
    assert len(env.own_volumes()) == 1
    env.assert_no_unattached_volume()


def test_total_size_limit_reached(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = _ready(env, limits={"max_total_size_gb": 200})
    with caplog.at_level(logging.WARNING):
        daemon.run(lambda: False, max_iterations=3)
    assert "max_total_size_gb 200 reached" in _messages(caplog)
    assert "create_volume" not in env.faulty.calls
    env.assert_no_unattached_volume()


def test_imds_unreachable(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = env.daemon(imds_endpoint=unreachable_endpoint())
    with caplog.at_level(logging.INFO):
        daemon.run(lambda: False, max_iterations=3)
    assert _messages(caplog).count("event=imds_unreachable") == 3
    assert env.faulty.calls == []
    assert env.own_volumes() == []
    daemon.imds = Imds(env.imds.endpoint)
    daemon.run(lambda: False, max_iterations=1)
    assert env.host.mounted and daemon.state.count == 1
    env.assert_no_unattached_volume()


def test_imds_unreachable_fails_init(env: Env) -> None:
    with pytest.raises(GrowthFailed, match="IMDS unreachable"):
        env.daemon(imds_endpoint=unreachable_endpoint()).init()
    assert env.own_volumes() == []


def test_restart_while_btrfs_cannot_be_read_retries_the_rebuild(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.daemon().init()
    env.host.fail.add("btrfs filesystem show")
    restarted = env.daemon()
    with caplog.at_level(logging.ERROR):
        restarted.run(lambda: False, max_iterations=2)
    assert _messages(caplog).count("event=step_failed error=CommandFailed") == 2
    assert restarted.identity is None
    env.host.fail.clear()
    env.host.fill_to(90)
    restarted.step()
    assert restarted.state.count == 2
    env.assert_no_unattached_volume()
