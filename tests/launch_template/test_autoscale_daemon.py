"""The EBS autoscale daemon against moto EC2: create, attach, tag, grow, limits, restart."""

from __future__ import annotations

import logging

import pytest

from launch_template.host_assets.ebs_autoscale.daemon import GrowthFailed

from .conftest import GIB, Env


def _sizes(env: Env) -> list[int]:
    return sorted(v["Size"] for v in env.own_volumes())


def test_init_creates_tags_attaches_and_formats_the_first_volume(env: Env) -> None:
    daemon = env.daemon()
    daemon.init()
    [volume] = env.own_volumes()
    assert volume["Size"] == 150
    assert volume["VolumeType"] == "gp3"
    assert volume["Iops"] == 3000
    assert volume["Encrypted"] is True
    assert volume["AvailabilityZone"] == "us-east-1a"
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert tags == {
        "Name": "batch-host",
        "project": "genomics",
        "ironside:autoscale": "true",
        "ironside:autoscale-instance": env.instance_id,
    }
    [attached] = volume["Attachments"]
    assert (attached["InstanceId"], attached["Device"]) == (env.instance_id, "/dev/xvdba")
    assert ("mkfs.btrfs", "-f", "/dev/nvme1n1") in env.host.commands
    assert env.host.mounted
    env.assert_no_unattached_volume()


def test_volumes_are_set_to_delete_on_termination(env: Env) -> None:
    env.daemon().init()
    instance = env.ec2.describe_instances(InstanceIds=[env.instance_id])
    mappings = instance["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]
    by_device = {m["DeviceName"]: m["Ebs"]["DeleteOnTermination"] for m in mappings}
    assert by_device["/dev/xvdba"] is True


def test_usage_past_threshold_adds_a_bigger_volume_to_btrfs(env: Env) -> None:
    daemon = env.daemon()
    daemon.init()
    env.host.fill_to(49)
    daemon.step()
    assert _sizes(env) == [150]
    env.host.fill_to(51)
    daemon.step()
    assert _sizes(env) == [150, 300]
    assert ("btrfs", "device", "add", "-f", "/dev/nvme2n1", "/cromwell_root") in env.host.commands
    assert ("btrfs", "filesystem", "resize", "max", "/cromwell_root") in env.host.commands
    assert env.host.fs_devices == ["/dev/nvme1n1", "/dev/nvme2n1"]
    assert env.host.size_bytes() == 450 * GIB
    assert daemon.state.count == 2 and daemon.state.total_gb == 450
    env.assert_no_unattached_volume()


def test_threshold_rises_with_the_volume_count(env: Env) -> None:
    config = env.config(limits={"max_volume_size_gb": 150})
    daemon = env.daemon(config)
    daemon.init()
    for _ in range(3):
        env.host.fill_to(60)
        daemon.step()
    assert daemon.state.count == 4
    env.host.fill_to(79)
    daemon.step()
    assert daemon.state.count == 4
    env.host.fill_to(81)
    daemon.step()
    assert daemon.state.count == 5


def test_volume_sizes_double_up_to_the_maximum(env: Env) -> None:
    daemon = env.daemon(env.config(limits={"max_volume_size_gb": 1000}))
    daemon.init()
    for _ in range(4):
        env.host.fill_to(95)
        daemon.step()
    assert _sizes(env) == [150, 300, 600, 1000, 1000]


def test_max_volume_count_stops_growth_and_says_why(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = env.daemon(env.config(limits={"max_volume_count": 2}))
    daemon.init()
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            env.host.fill_to(99)
            daemon.step()
    assert _sizes(env) == [150, 300]
    limit_lines = [r.message for r in caplog.records if "event=limit_reached" in r.message]
    assert limit_lines == ["event=limit_reached reason=max_volume_count 2 reached"]


def test_max_total_size_caps_the_last_volume_then_stops(env: Env) -> None:
    daemon = env.daemon(env.config(limits={"max_total_size_gb": 700}))
    daemon.init()
    for _ in range(4):
        env.host.fill_to(99)
        daemon.step()
    assert _sizes(env) == [150, 250, 300]
    assert daemon.status()["limit_reached"].startswith("max_total_size_gb 700 reached")


def test_failed_btrfs_add_deletes_the_volume(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    daemon = env.daemon()
    daemon.init()
    env.host.fail.add("btrfs device add")
    env.host.fill_to(90)
    with caplog.at_level(logging.WARNING):
        daemon.step()
    assert _sizes(env) == [150]
    assert "delete_volume" in env.faulty.calls
    assert any("adding the device to the file system failed" in r.message for r in caplog.records)
    env.assert_no_unattached_volume()
    env.host.fail.clear()
    daemon.step()
    assert _sizes(env) == [150, 300]


def test_failed_mkfs_at_init_deletes_the_volume_and_raises(env: Env) -> None:
    env.host.fail.add("mkfs.btrfs -f")
    with pytest.raises(GrowthFailed):
        env.daemon().init()
    assert env.own_volumes() == []


def test_dry_run_decides_but_creates_nothing(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.daemon().init()
    env.host.fill_to(90)
    dry = env.daemon(dry_run=True)
    with caplog.at_level(logging.INFO):
        dry.step()
    assert _sizes(env) == [150]
    assert any(
        "event=dry_run action=create_volume size_gb=300" in r.message for r in caplog.records
    )


def test_restart_rebuilds_state_and_removes_leftovers(env: Env) -> None:
    first = env.daemon()
    first.init()
    env.host.fill_to(90)
    first.step()
    leftover = env.ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=300,
        TagSpecifications=[
            {
                "ResourceType": "volume",
                "Tags": [
                    {"Key": "ironside:autoscale", "Value": "true"},
                    {"Key": "ironside:autoscale-instance", "Value": env.instance_id},
                ],
            }
        ],
    )["VolumeId"]
    stranger = env.ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    second = env.daemon()
    assert second.connect()
    assert second.state.count == 2
    assert second.state.total_gb == 450
    assert {v.device for v in second.state.volumes.values()} == {"/dev/xvdba", "/dev/xvdbb"}
    remaining = {v["VolumeId"] for v in env.ec2.describe_volumes()["Volumes"]}
    assert leftover not in remaining
    assert stranger in remaining
    env.host.fill_to(90)
    second.step()
    assert _sizes(env) == [150, 300, 600]
    assert second.state.devices == {"/dev/xvdba", "/dev/xvdbb", "/dev/xvdbc"}


def test_restart_discards_a_volume_attached_but_not_in_the_file_system(env: Env) -> None:
    first = env.daemon()
    first.init()
    env.host.fail.add("btrfs device add")
    env.host.fill_to(90)
    volume = first.provision(300)
    assert volume.block_device not in env.host.fs_devices
    second = env.daemon()
    assert second.connect()
    assert second.state.count == 1
    assert _sizes(env) == [150]
    env.assert_no_unattached_volume()


def test_status_reports_usage_volumes_and_limits(env: Env) -> None:
    daemon = env.daemon()
    daemon.init()
    env.host.fill_to(25)
    report = daemon.status()
    assert report["instance_id"] == env.instance_id
    assert report["mounted"] is True
    assert report["usage"]["percent"] == pytest.approx(25, abs=0.01)
    assert report["volume_count"] == 1 and report["total_size_gb"] == 150
    assert report["volumes"][0]["device"] == "/dev/xvdba"
    assert report["limits"]["max_volume_count"] == 16
    assert report["threshold_percent"] == 50
    assert report["next_volume_size_gb"] == 300
    assert report["limit_reached"] is None


def test_without_btrfs_progs_scratch_is_ext4_on_lvm_and_grows_online(env: Env) -> None:
    """Amazon Linux 2023 (Batch's ECS_AL2023 image) ships no btrfs-progs."""
    env.host.has_btrfs = False
    daemon = env.daemon()
    daemon.init()
    lv = "/dev/ironside_scratch/scratch"
    assert ("vgcreate", "ironside_scratch", "/dev/nvme1n1") in env.host.commands
    assert ("mkfs.ext4", "-F", "-q", lv) in env.host.commands
    assert ("mount", "-t", "ext4", lv, "/cromwell_root") in env.host.commands
    env.host.fill_to(90)
    daemon.step()
    assert _sizes(env) == [150, 300]
    assert ("vgextend", "ironside_scratch", "/dev/nvme2n1") in env.host.commands
    assert ("lvextend", "-l", "+100%FREE", lv) in env.host.commands
    assert ("resize2fs", lv) in env.host.commands
    restarted = env.daemon()
    assert restarted.connect() and restarted.state.count == 2
    env.assert_no_unattached_volume()


def test_filesystem_can_be_forced(env: Env) -> None:
    daemon = env.daemon(env.config(filesystem="lvm.ext4"))
    daemon.init()
    assert env.host.fstype == "ext4"
    assert not any(c[0] == "mkfs.btrfs" for c in env.host.commands)


def test_a_device_that_may_be_in_the_file_system_is_never_detached(env: Env) -> None:
    daemon = env.daemon()
    daemon.init()
    env.host.fail.update({"btrfs device add", "btrfs filesystem show"})
    env.host.fill_to(90)
    daemon.step()
    assert _sizes(env) == [150, 300]
    assert "detach_volume" not in env.faulty.calls
    assert daemon.state.count == 2
    env.assert_no_unattached_volume()


def test_status_and_dry_run_never_delete_a_volume_a_running_daemon_may_own(env: Env) -> None:
    env.daemon().init()
    in_flight = env.ec2.create_volume(
        AvailabilityZone="us-east-1a",
        Size=300,
        TagSpecifications=[
            {
                "ResourceType": "volume",
                "Tags": [
                    {"Key": "ironside:autoscale", "Value": "true"},
                    {"Key": "ironside:autoscale-instance", "Value": env.instance_id},
                ],
            }
        ],
    )["VolumeId"]
    env.host.fill_to(90)
    env.faulty.calls.clear()
    observer = env.daemon(dry_run=True)
    report = observer.status()
    observer.run(lambda: False, max_iterations=2)
    assert report["pending_cleanup"] == [in_flight]
    assert in_flight in {v["VolumeId"] for v in env.own_volumes()}
    assert "delete_volume" not in env.faulty.calls and "create_volume" not in env.faulty.calls
