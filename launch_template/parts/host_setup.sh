IRONSIDE_HOST_ASSETS_URL=@@HOST_ASSETS_URL@@
IRONSIDE_AWS_CLI_URL=@@AWS_CLI_URL@@
IRONSIDE_AWS_CLI_SHA256=@@AWS_CLI_SHA256@@
IRONSIDE_AWS_CLI_KIND=@@AWS_CLI_KIND@@
IRONSIDE_REGION=@@REGION@@
IRONSIDE_HOST_LOG_GROUP=@@HOST_LOG_GROUP@@
IRONSIDE_DOCKER_HUB_SECRET_ARN=@@DOCKER_HUB_SECRET_ARN@@
IRONSIDE_SCRATCH_MOUNT=@@SCRATCH_MOUNT@@
IRONSIDE_ASSETS_DIR=/opt/ironside/host-assets
IRONSIDE_AUTOSCALE_CONFIG=/etc/ironside/ebs-autoscale.json
IRONSIDE_ECS_CONFIG=/etc/ecs/ecs.config
export AWS_DEFAULT_REGION="$IRONSIDE_REGION"

# Nothing from the internet: packages come from the Amazon Linux repositories (S3, through
# the gateway endpoint), everything else from the kit's assets. The host's own CLI is the
# distribution's (the minimal AMI under the ECS one has none).
install_packages() {
  command -v unzip >/dev/null 2>&1 || retry yum install -y -q unzip
  command -v aws >/dev/null 2>&1 || retry yum install -y -q awscli-2
  AWS=$(command -v aws)
}

# Docker Hub credentials (base64 of user:token, or the pull-through cache JSON) into the
# ECS agent's auth.
configure_docker_hub() {
  if [ -z "$IRONSIDE_DOCKER_HUB_SECRET_ARN" ]; then
    return 0
  fi
  local auth
  auth=$(retry "$AWS" secretsmanager get-secret-value --secret-id "$IRONSIDE_DOCKER_HUB_SECRET_ARN" \
    --query SecretString --output text)
  # The ECR pull-through cache secret format, {"username": ..., "accessToken": ...}, too.
  case "$auth" in
    '{'*)
      auth=$(printf '%s' "$auth" | python3 -c 'import base64, json, sys
d = json.load(sys.stdin)
print(base64.b64encode((d["username"] + ":" + d["accessToken"]).encode()).decode())' 2>/dev/null) || auth=''
      ;;
  esac
  case "$auth" in
    '' | *[!A-Za-z0-9+/=]*)
      echo "ironside: the Docker Hub secret must hold base64 of user:token" >&2
      return 1
      ;;
  esac
  # The secret is fetched at boot, never carried in user data; only root reads the file.
  chmod 0600 "$IRONSIDE_ECS_CONFIG"
  {
    echo 'ECS_ENGINE_AUTH_TYPE=dockercfg'
    printf 'ECS_ENGINE_AUTH_DATA={"https://index.docker.io/v1/":{"auth":"%s","email":""}}\n' "$auth"
  } >>"$IRONSIDE_ECS_CONFIG"
}

write_autoscale_config() {
  mkdir -p "$(dirname "$IRONSIDE_AUTOSCALE_CONFIG")"
  cat >"$IRONSIDE_AUTOSCALE_CONFIG" <<'IRONSIDE_JSON_EOF'
@@AUTOSCALE_JSON@@
IRONSIDE_JSON_EOF
}

# Host assets: fetch_and_run.sh, the EBS autoscale daemon, its systemd unit, the
# CloudWatch agent config and the task containers' AWS CLI; install.sh installs and starts
# them.
install_host_assets() {
  local tmp
  tmp=$(mktemp -d)
  retry "$AWS" s3 cp --only-show-errors "$IRONSIDE_HOST_ASSETS_URL" "$tmp/host-assets.zip"
  retry "$AWS" s3 cp --only-show-errors "$IRONSIDE_AWS_CLI_URL" "$tmp/aws-cli.zip"
  rm -rf "$IRONSIDE_ASSETS_DIR"
  mkdir -p "$IRONSIDE_ASSETS_DIR"
  unzip -q -o "$tmp/host-assets.zip" -d "$IRONSIDE_ASSETS_DIR"
  unzip -q -o "$tmp/aws-cli.zip" -d "$tmp/aws-cli"
  IRONSIDE_REGION="$IRONSIDE_REGION" \
    IRONSIDE_HOST_LOG_GROUP="$IRONSIDE_HOST_LOG_GROUP" \
    IRONSIDE_SCRATCH_MOUNT="$IRONSIDE_SCRATCH_MOUNT" \
    IRONSIDE_AUTOSCALE_CONFIG="$IRONSIDE_AUTOSCALE_CONFIG" \
    IRONSIDE_AWS_CLI_DIR="$tmp/aws-cli" \
    IRONSIDE_AWS_CLI_SHA256="$IRONSIDE_AWS_CLI_SHA256" \
    IRONSIDE_AWS_CLI_KIND="$IRONSIDE_AWS_CLI_KIND" \
    bash "$IRONSIDE_ASSETS_DIR/install.sh"
  rm -rf "$tmp"
}

install_packages
configure_docker_hub
write_autoscale_config
install_host_assets
echo "ironside: host setup complete"
