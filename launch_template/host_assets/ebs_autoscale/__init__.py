"""Ironside's EBS autoscale daemon: grows the scratch file system (btrfs or LVM ext4).

Runs on Batch hosts under Python 3.9+ with only the standard library and boto3, so every
module uses ``from __future__ import annotations`` and relative imports (the package is
shipped inside the host assets zip and run as ``python3 -m ebs_autoscale``).
"""
