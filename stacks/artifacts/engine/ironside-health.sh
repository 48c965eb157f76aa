#!/bin/bash
# Run every minute by ironside-health.timer: GET /engine/v1/status; after three failures
# in a row the instance reports itself unhealthy and the Auto Scaling group replaces it.
set -Euo pipefail
# shellcheck source=/dev/null
. /etc/ironside/host.env
STATE=/run/ironside/health-failures
PORT=${IRONSIDE_PORT:-8000}
if curl -fsS --max-time 10 "http://127.0.0.1:${PORT}/engine/v1/status" >/dev/null; then
  echo 0 >"$STATE"
  exit 0
fi
failures=$(($(cat "$STATE" 2>/dev/null || echo 0) + 1))
echo "$failures" >"$STATE"
echo "ironside-health: status check failed (${failures} in a row)" >&2
if [ "$failures" -ge 3 ]; then
  token=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    http://169.254.169.254/latest/api/token)
  instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" \
    http://169.254.169.254/latest/meta-data/instance-id)
  aws autoscaling set-instance-health --region "$IRONSIDE_REGION" \
    --instance-id "$instance" --health-status Unhealthy
fi
exit 1
