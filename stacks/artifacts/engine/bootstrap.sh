#!/bin/bash
# Sets up the Ironside engine host (Amazon Linux 2023). Run once by the user data from
# the unzipped artifacts directory, after it wrote /etc/ironside/host.env and
# /etc/ironside/ironside.conf. It ends by signalling the Auto Scaling group's
# CloudFormation creation/update policy: SUCCESS once /engine/v1/status answers, FAILURE on
# any error (or no signal at all, and the policy times out), so a broken engine host fails
# the deployment instead of looking healthy.
set -Eeuo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
. /etc/ironside/host.env
: "${IRONSIDE_REGION:?}" "${IRONSIDE_WHEEL_URL:?}" "${IRONSIDE_LOG_GROUP:?}" "${IRONSIDE_ASG_NAME:?}"
: "${IRONSIDE_STACK_NAME:?}" "${IRONSIDE_SIGNAL_RESOURCE:?}"

# SignalResource for the group's creation/update policy (unique id: this instance's id).
signal() {
  local token instance
  token=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    http://169.254.169.254/latest/api/token) || return 1
  instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" \
    http://169.254.169.254/latest/meta-data/instance-id) || return 1
  aws cloudformation signal-resource --region "$IRONSIDE_REGION" \
    --stack-name "$IRONSIDE_STACK_NAME" --logical-resource-id "$IRONSIDE_SIGNAL_RESOURCE" \
    --unique-id "$instance" --status "$1"
}
trap 'echo "bootstrap: failed at line $LINENO" >&2; signal FAILURE || true' ERR

retry() {
  local attempt
  for attempt in 1 2 3 4 5; do
    "$@" && return 0
    echo "bootstrap: attempt ${attempt}/5 failed: $*" >&2
    sleep $((attempt * 5))
  done
  return 1
}

retry dnf install -y -q python3.11 python3.11-pip unzip amazon-cloudwatch-agent

# The engine: its wheel (built at synth) into a venv; dependencies from PyPI.
install -d -m 0755 /opt/ironside /var/log/ironside /var/lib/ironside
tmp=$(mktemp -d)
retry aws s3 cp --only-show-errors --region "$IRONSIDE_REGION" "$IRONSIDE_WHEEL_URL" "$tmp/wheel.zip"
unzip -q -o "$tmp/wheel.zip" -d "$tmp/wheel"
python3.11 -m venv /opt/ironside/venv
retry /opt/ironside/venv/bin/pip install -q --disable-pip-version-check "$tmp"/wheel/*.whl
rm -rf "$tmp"

# The database requires TLS; PyMySQL verifies it against the RDS CA bundle.
retry curl -fsS --max-time 30 -o /etc/ironside/rds-ca.pem \
  https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem

install -m 0755 "$HERE/ironside-env.sh" /usr/local/bin/ironside-env.sh
install -m 0755 "$HERE/ironside-health.sh" /usr/local/bin/ironside-health.sh
install -m 0644 "$HERE/ironside.service" "$HERE/ironside-health.service" \
  "$HERE/ironside-health.timer" /etc/systemd/system/

# Logs and memory metrics through the CloudWatch agent.
sed -e "s|@@LOG_GROUP@@|${IRONSIDE_LOG_GROUP}|g" -e "s|@@ASG_NAME@@|${IRONSIDE_ASG_NAME}|g" \
  "$HERE/cloudwatch-agent.json" >/opt/aws/amazon-cloudwatch-agent/etc/ironside.json
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \
  -c file:/opt/aws/amazon-cloudwatch-agent/etc/ironside.json

systemctl daemon-reload
systemctl enable --now ironside.service ironside-health.timer

# Healthy means the API answers; the policy's timeout bounds the whole bootstrap.
PORT=${IRONSIDE_PORT:-8000}
for _ in $(seq 1 60); do
  if curl -fsS --max-time 5 "http://127.0.0.1:${PORT}/engine/v1/status" >/dev/null; then
    echo "bootstrap: engine installed and answering"
    signal SUCCESS
    exit 0
  fi
  sleep 5
done
echo "bootstrap: /engine/v1/status did not answer within 5 minutes" >&2
signal FAILURE
exit 1
