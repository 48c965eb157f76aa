#!/bin/bash
# Installs the Ironside host assets on a Batch host; run by the user data from the
# unzipped asset directory.  Exits non-zero on any failure (the user data then takes
# the host out of service).
#
# Environment: IRONSIDE_REGION, IRONSIDE_HOST_LOG_GROUP, IRONSIDE_SCRATCH_MOUNT,
# IRONSIDE_AUTOSCALE_CONFIG (path of the daemon's JSON config), IRONSIDE_AWS_CLI_DIR (the
# unzipped AWS CLI asset), IRONSIDE_AWS_CLI_KIND (wheelhouse, or bundle: the operator's
# AWS CLI v2 bundles) and IRONSIDE_AWS_CLI_SHA256 (the SHA-256 of its manifest,
# requirements.txt or SHA256SUMS, from the template); IRONSIDE_ROOT (default empty) prefixes the paths it writes,
# and IRONSIDE_PYTHON (default python3.11) installs the CLI, so tests can install into a
# scratch directory.
set -Eeuo pipefail
umask 022
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${IRONSIDE_REGION:?}" "${IRONSIDE_HOST_LOG_GROUP:?}" "${IRONSIDE_SCRATCH_MOUNT:?}"
: "${IRONSIDE_AUTOSCALE_CONFIG:?}" "${IRONSIDE_AWS_CLI_DIR:?}" "${IRONSIDE_AWS_CLI_SHA256:?}"
: "${IRONSIDE_AWS_CLI_KIND:?}"
ROOT=${IRONSIDE_ROOT:-}
PYTHON=${IRONSIDE_PYTHON:-python3.11}
AWS_CLI_DIR=$ROOT/usr/local/aws-cli
CW_AGENT_DIR=$ROOT/opt/aws/amazon-cloudwatch-agent
CW_AGENT_CONFIG=$CW_AGENT_DIR/etc/ironside-host-logs.json
UNIT=ironside-ebs-autoscale.service
UNIT_DIR=$ROOT/etc/systemd/system

yum_install() {
  local attempt
  for attempt in 1 2 3; do
    if yum install -y -q "$@"; then
      return 0
    fi
    sleep $((attempt * 10))
  done
  echo "install.sh: yum install $* failed" >&2
  return 1
}

install_fetch_and_run() {
  install -D -m 0755 "$HERE/fetch_and_run.sh" "$ROOT/usr/local/bin/fetch_and_run.sh"
}

# The AWS CLI task containers use, mounted read-only at /usr/local/aws-cli; its `aws` is
# at v2/current/bin/aws, the path the engine's task scripts and fetch_and_run.sh call.
install_aws_cli() {
  rm -rf "$AWS_CLI_DIR"
  case "$IRONSIDE_AWS_CLI_KIND" in
    wheelhouse) install_aws_cli_wheelhouse ;;
    bundle) install_aws_cli_bundle ;;
    *)
      echo "install.sh: IRONSIDE_AWS_CLI_KIND must be wheelhouse or bundle" >&2
      return 1
      ;;
  esac
  "$AWS_CLI_DIR/v2/current/bin/aws" --version
}

# The kit's pinned awscli wheelhouse, installed offline with every hash checked, and a
# launcher that runs it on the image's python3.
install_aws_cli_wheelhouse() {
  yum_install python3.11 python3.11-pip
  bash "$HERE/install_wheelhouse.sh" "$PYTHON" "$IRONSIDE_AWS_CLI_DIR" \
    "$IRONSIDE_AWS_CLI_SHA256" --target "$AWS_CLI_DIR/lib"
  install -d -m 0755 "$AWS_CLI_DIR/v2/current/bin"
  sed -e "s|@@LIB@@|$AWS_CLI_DIR/lib|g" "$HERE/aws_cli_launcher.sh" >"$AWS_CLI_DIR/v2/current/bin/aws"
  chmod 0755 "$AWS_CLI_DIR/v2/current/bin/aws"
}

# The operator's AWS CLI v2 bundle for this architecture, checked against SHA256SUMS,
# whose own SHA-256 the template carries; AWS's installer lays out v2/current.
install_aws_cli_bundle() {
  local sums=$IRONSIDE_AWS_CLI_DIR/SHA256SUMS zip tmp
  zip=awscli-exe-linux-$(uname -m).zip
  if [ "$(sha256sum "$sums" | cut -d' ' -f1)" != "$IRONSIDE_AWS_CLI_SHA256" ]; then
    echo "install.sh: $sums does not have the SHA-256 the template says" >&2
    return 1
  fi
  grep -E "^[0-9a-f]{64} [ *]$zip\$" "$sums" | (cd "$IRONSIDE_AWS_CLI_DIR" && sha256sum -c --quiet -)
  tmp=$(mktemp -d)
  unzip -q "$IRONSIDE_AWS_CLI_DIR/$zip" -d "$tmp"
  "$tmp/aws/install" --install-dir "$AWS_CLI_DIR" --bin-dir "$tmp/bin"
  rm -rf "$tmp"
}

# The daemon needs python3 with boto3, and the tools of the scratch file system: btrfs-progs
# where the distribution has it (Amazon Linux 2; not 2023), lvm2 and e2fsprogs everywhere
# (the daemon's "auto" file system falls back to ext4 on LVM without btrfs-progs).
install_daemon_prerequisites() {
  yum_install python3 lvm2 e2fsprogs
  yum install -y -q btrfs-progs || echo "install.sh: no btrfs-progs here; scratch will be lvm.ext4"
  python3 -c 'import boto3' 2>/dev/null || yum_install python3-boto3
}

install_cloudwatch_agent() {
  yum_install amazon-cloudwatch-agent
  mkdir -p "$(dirname "$CW_AGENT_CONFIG")"
  sed -e "s|@@HOST_LOG_GROUP@@|${IRONSIDE_HOST_LOG_GROUP}|g" \
    "$HERE/cloudwatch-agent.json" >"$CW_AGENT_CONFIG"
  "$CW_AGENT_DIR/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s \
    -c "file:$CW_AGENT_CONFIG"
}

# Create the scratch file system now (a host without it must not take jobs), then keep
# growing it from the systemd service.
install_autoscale_daemon() {
  mkdir -p "$UNIT_DIR"
  sed -e "s|@@ASSETS_DIR@@|${HERE}|g" -e "s|@@CONFIG@@|${IRONSIDE_AUTOSCALE_CONFIG}|g" \
    "$HERE/$UNIT" >"$UNIT_DIR/$UNIT"
  PYTHONPATH="$HERE" AWS_DEFAULT_REGION="$IRONSIDE_REGION" \
    python3 -m ebs_autoscale --config "$IRONSIDE_AUTOSCALE_CONFIG" init
  systemctl daemon-reload
  systemctl enable --now "$UNIT"
}

install_fetch_and_run
install_aws_cli
install_daemon_prerequisites
install_cloudwatch_agent
install_autoscale_daemon
echo "install.sh: host assets installed"
