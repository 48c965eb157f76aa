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
: "${IRONSIDE_REGION:?}" "${IRONSIDE_WHEEL_URL:?}" "${IRONSIDE_WHEEL_NAME:?}" "${IRONSIDE_WHEEL_SHA256:?}"
: "${IRONSIDE_WHEELHOUSE_URL:?}" "${IRONSIDE_WHEELHOUSE_SHA256:?}"
: "${IRONSIDE_RDS_CA_URL:?}" "${IRONSIDE_RDS_CA_SHA256:?}" "${IRONSIDE_LOG_GROUP:?}" "${IRONSIDE_ASG_NAME:?}"
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

# The engine: its wheel (built at synth) and its dependencies' wheelhouse (pinned) into a
# venv, offline, every file checked against the SHA-256s the template carries.
install -d -m 0755 /opt/ironside /var/log/ironside /var/lib/ironside
tmp=$(mktemp -d)
retry aws s3 cp --only-show-errors --region "$IRONSIDE_REGION" "$IRONSIDE_WHEEL_URL" "$tmp/wheel.zip"
retry aws s3 cp --only-show-errors --region "$IRONSIDE_REGION" "$IRONSIDE_WHEELHOUSE_URL" \
  "$tmp/wheelhouse.zip"
unzip -q -o "$tmp/wheel.zip" -d "$tmp/wheel"
unzip -q -o "$tmp/wheelhouse.zip" -d "$tmp/wheelhouse"
echo "ironside @ file://$tmp/wheel/$IRONSIDE_WHEEL_NAME --hash=sha256:$IRONSIDE_WHEEL_SHA256" \
  >"$tmp/engine.txt"
python3.11 -m venv /opt/ironside/venv
bash "$HERE/install_wheelhouse.sh" /opt/ironside/venv/bin/python "$tmp/wheelhouse" \
  "$IRONSIDE_WHEELHOUSE_SHA256" -r "$tmp/engine.txt"
rm -rf "$tmp"

# The database requires TLS; PyMySQL verifies it against the RDS CA bundle (a kit asset).
retry aws s3 cp --only-show-errors --region "$IRONSIDE_REGION" "$IRONSIDE_RDS_CA_URL" \
  /etc/ironside/rds-ca.pem.tmp
echo "$IRONSIDE_RDS_CA_SHA256  /etc/ironside/rds-ca.pem.tmp" | sha256sum -c --quiet -
mv /etc/ironside/rds-ca.pem.tmp /etc/ironside/rds-ca.pem

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
