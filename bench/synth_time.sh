#!/bin/bash
# Cold `cdk synth` of the whole Ironside app: a fresh output directory (no cached
# assets, so the engine wheel is rebuilt), no AWS credentials. Prints the seconds.
# Target here: <= 20 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/node-bin:$PWD/$VENV/bin:$PATH"
export JSII_NODE="$PWD/$VENV/node-bin/node" JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_VERSION_CHECK=1 CDK_CLI_NOTICES=false
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
start=$(date +%s.%N)
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  npx cdk synth --quiet --output "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; rm -f "$out.log"; exit 1; }
end=$(date +%s.%N)
rm -f "$out.log"
stacks=$(find "$out" -maxdepth 1 -name '*.template.json' | wc -l)
seconds=$(python3 -c "print(f'{$end - $start:.1f}')")
echo "cold cdk synth: ${seconds} s for ${stacks} stacks (target <= 20 s)"
