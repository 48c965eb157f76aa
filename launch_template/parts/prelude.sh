#!/bin/bash
# Ironside Batch host user data part: @@PART@@
# A failing step takes the host out of service rather than leaving a
# half-ready host in the compute environment (see ironside_fail below).
set -Eeuo pipefail
umask 022
IRONSIDE_PART=@@PART@@
IRONSIDE_UNHEALTHY_MARKER=${IRONSIDE_UNHEALTHY_MARKER:-/var/lib/ironside-host-unhealthy}
IRONSIDE_CONSOLE=${IRONSIDE_CONSOLE:-/dev/console}

# Why not `aws autoscaling set-instance-health`: Batch owns the Auto Scaling
# group or Spot Fleet behind a managed compute environment, Spot Fleets have no
# health API at all, and granting hosts autoscaling:* on a Batch-owned group is
# broader than we want.  What reliably removes a host is (1) masking and
# stopping the ECS agent so it never registers (or deregisters) and Batch
# places no job here, then (2) powering the instance off: a stopped or
# terminated instance fails its EC2 status check, and Batch replaces it to
# keep the compute environment at its desired vCPUs.  The one-minute delay
# lets the CloudWatch agent ship the reason, which also goes to the serial
# console (aws ec2 get-console-output).
ironside_fail() {
  local rc=$1 line=$2
  trap - ERR
  local msg="ironside: host setup failed in ${IRONSIDE_PART} line ${line} (exit ${rc}); taking this host out of service"
  echo "$msg" >&2
  echo "$msg" >"$IRONSIDE_CONSOLE" 2>/dev/null || true
  logger -t ironside-user-data "$msg" 2>/dev/null || true
  echo "$msg" >"$IRONSIDE_UNHEALTHY_MARKER" 2>/dev/null || true
  systemctl mask ecs.service >/dev/null 2>&1 || true
  systemctl stop --no-block ecs.service >/dev/null 2>&1 || true
  shutdown -h +1 "ironside host setup failed" >/dev/null 2>&1 || poweroff || true
  exit "$rc"
}
trap 'ironside_fail $? $LINENO' ERR

# retry CMD...: run CMD up to 5 times with growing sleeps.
retry() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if "$@"; then
      return 0
    fi
    echo "ironside: attempt ${attempt}/5 failed: $*" >&2
    sleep $((attempt * 5))
  done
  return 1
}
