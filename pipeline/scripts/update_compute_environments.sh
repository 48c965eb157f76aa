#!/usr/bin/env bash
# Roll a new launch template version out to the Batch compute environments.
#
# CloudFormation creates a new launch template version whenever the user data (and with it
# the hash of the host assets under launch_template/) changes. This step points every
# compute environment at that version with UpdateComputeEnvironment, which starts a Batch
# infrastructure update: new hosts boot from the new version, old ones are replaced once
# their jobs finish. An environment already on the version is left alone, so the step is
# idempotent and cheap on pushes that did not touch launch_template/.
#
# Environment (from the Batch stack's outputs):
#   LAUNCH_TEMPLATE_ID        lt-...
#   LAUNCH_TEMPLATE_VERSION   the version number CloudFormation just created
#   COMPUTE_ENVIRONMENT_ARNS  comma-separated compute environment ARNs
# Optional: WAIT_SECONDS (default 1800), POLL_SECONDS (default 15).
set -euo pipefail

: "${LAUNCH_TEMPLATE_ID:?LAUNCH_TEMPLATE_ID is not set}"
: "${LAUNCH_TEMPLATE_VERSION:?LAUNCH_TEMPLATE_VERSION is not set}"
: "${COMPUTE_ENVIRONMENT_ARNS:?COMPUTE_ENVIRONMENT_ARNS is not set}"
WAIT_SECONDS="${WAIT_SECONDS:-1800}"
POLL_SECONDS="${POLL_SECONDS:-15}"

describe() {  # describe <compute environment> <JMESPath inside the environment>
  aws batch describe-compute-environments --compute-environments "$1" \
    --query "computeEnvironments[0].$2" --output text
}

wait_until_valid() {  # wait_until_valid <compute environment>
  local deadline=$((SECONDS + WAIT_SECONDS)) status
  while :; do
    status="$(describe "$1" status)"
    case "$status" in
      VALID) echo "$1: VALID"; return 0 ;;
      INVALID) echo "$1: INVALID: $(describe "$1" statusReason)" >&2; return 1 ;;
    esac
    if ((SECONDS >= deadline)); then
      echo "$1: still $status after ${WAIT_SECONDS}s" >&2
      return 1
    fi
    sleep "$POLL_SECONDS"
  done
}

spec="$(printf '{"launchTemplate":{"launchTemplateId":"%s","version":"%s"}}' \
  "$LAUNCH_TEMPLATE_ID" "$LAUNCH_TEMPLATE_VERSION")"
IFS=',' read -r -a environments <<<"$COMPUTE_ENVIRONMENT_ARNS"
for environment in "${environments[@]}"; do
  current="$(describe "$environment" computeResources.launchTemplate.version)"
  if [[ "$current" == "$LAUNCH_TEMPLATE_VERSION" ]]; then
    echo "$environment: already on launch template version $current"
    continue
  fi
  echo "$environment: launch template version $current -> $LAUNCH_TEMPLATE_VERSION"
  wait_until_valid "$environment"  # an update in progress must finish first
  aws batch update-compute-environment --compute-environment "$environment" \
    --compute-resources "$spec" >/dev/null
  wait_until_valid "$environment"
done
