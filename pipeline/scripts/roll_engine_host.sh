#!/usr/bin/env bash
# Replace the engine host when its launch template changed, then wait until it is healthy.
#
# A change under runtime/ builds a new engine wheel, a new asset, new user data and so a new
# launch template version that CloudFormation puts on the engine's Auto Scaling group. This
# step starts an instance refresh with SkipMatching, which replaces only instances not on
# the group's launch template version (none on pushes that did not touch the engine), waits
# for it, then asks the engine on each in-service instance for /engine/v1/status through
# SSM Run Command (the host has no public address) until it answers 200.
#
# The refresh terminates before it launches (MinHealthyPercentage 0): two engines must never
# share one database, and the engine resumes running workflows from it on start.
#
# Environment (from the engine stack's outputs):
#   ENGINE_ASG_NAME  the engine's Auto Scaling group
#   ENGINE_PORT      the port the engine listens on, on the host
# Optional: REFRESH_TIMEOUT_SECONDS (3600), HEALTH_TIMEOUT_SECONDS (900), POLL_SECONDS (15),
#           INSTANCE_WARMUP_SECONDS (300), PROBE_POLL_SECONDS (3).
set -euo pipefail

: "${ENGINE_ASG_NAME:?ENGINE_ASG_NAME is not set}"
: "${ENGINE_PORT:?ENGINE_PORT is not set}"
REFRESH_TIMEOUT_SECONDS="${REFRESH_TIMEOUT_SECONDS:-3600}"
HEALTH_TIMEOUT_SECONDS="${HEALTH_TIMEOUT_SECONDS:-900}"
POLL_SECONDS="${POLL_SECONDS:-15}"
INSTANCE_WARMUP_SECONDS="${INSTANCE_WARMUP_SECONDS:-300}"
PROBE_POLL_SECONDS="${PROBE_POLL_SECONDS:-3}"
STATUS_URL="http://127.0.0.1:${ENGINE_PORT}/engine/v1/status"

refresh_status() {  # refresh_status <refresh id>
  aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$ENGINE_ASG_NAME" \
    --instance-refresh-ids "$1" --query 'InstanceRefreshes[0].Status' --output text
}

active_refresh() {  # the id of a Pending or InProgress refresh, if any
  aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$ENGINE_ASG_NAME" \
    --query "InstanceRefreshes[?Status=='Pending' || Status=='InProgress'] | [0].InstanceRefreshId" \
    --output text
}

wait_for_refresh() {  # wait_for_refresh <refresh id>
  local deadline=$((SECONDS + REFRESH_TIMEOUT_SECONDS)) status
  while :; do
    status="$(refresh_status "$1")"
    echo "instance refresh $1: $status"
    case "$status" in
      Successful) return 0 ;;
      Failed | Cancelled | RollbackSuccessful | RollbackFailed) return 1 ;;
    esac
    ((SECONDS < deadline)) || { echo "instance refresh $1: timed out" >&2; return 1; }
    sleep "$POLL_SECONDS"
  done
}

start_refresh() {
  local preferences
  preferences="$(printf '{"SkipMatching":true,"MinHealthyPercentage":0,"InstanceWarmup":%d}' \
    "$INSTANCE_WARMUP_SECONDS")"
  aws autoscaling start-instance-refresh --auto-scaling-group-name "$ENGINE_ASG_NAME" \
    --strategy Rolling --preferences "$preferences" --query InstanceRefreshId --output text
}

in_service_instances() {
  aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ENGINE_ASG_NAME" \
    --query "AutoScalingGroups[0].Instances[?LifecycleState=='InService'].InstanceId" \
    --output text
}

probe() {  # probe <instance id>: 0 when the engine on it answers 200
  local command_id status
  command_id="$(aws ssm send-command --instance-ids "$1" --document-name AWS-RunShellScript \
    --comment "ironside pipeline: engine health" \
    --parameters "{\"commands\":[\"curl -fsS -m 10 ${STATUS_URL}\"]}" \
    --query Command.CommandId --output text 2>/dev/null)" || return 1
  for _ in $(seq 1 20); do
    sleep "$PROBE_POLL_SECONDS"
    status="$(aws ssm get-command-invocation --command-id "$command_id" --instance-id "$1" \
      --query Status --output text 2>/dev/null)" || continue
    case "$status" in
      Success) return 0 ;;
      Pending | InProgress | Delayed) ;;
      *) return 1 ;;
    esac
  done
  return 1
}

wait_until_healthy() {
  local deadline=$((SECONDS + HEALTH_TIMEOUT_SECONDS)) instances instance unhealthy
  while :; do
    instances="$(in_service_instances)"
    unhealthy=""
    for instance in $instances; do
      probe "$instance" || unhealthy="$unhealthy $instance"
    done
    if [[ -n "$instances" && "$instances" != "None" && -z "$unhealthy" ]]; then
      echo "engine healthy on $instances ($STATUS_URL)"
      return 0
    fi
    ((SECONDS < deadline)) || { echo "engine not healthy on:${unhealthy:- no instance}" >&2; return 1; }
    sleep "$POLL_SECONDS"
  done
}

previous="$(active_refresh)"
if [[ -n "$previous" && "$previous" != "None" ]]; then
  echo "waiting for instance refresh $previous, already running"
  wait_for_refresh "$previous" || true
fi
refresh="$(start_refresh)"
echo "started instance refresh $refresh (skips instances already on the launch template)"
wait_for_refresh "$refresh"
wait_until_healthy
