#!/bin/bash
# `cdk synth` of the whole Ironside app, no AWS credentials: cold (a fresh output
# directory, no staged assets, so the engine wheel is rebuilt), then warm (the same
# output directory again: the CLI and staged assets reused, as on a developer's second
# run; the median of three). Prints both in seconds, with the load average before and
# after (the machine is shared: figures under load are not the synth's own). Target
# here: warm <= 20 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/node-bin:$PWD/$VENV/bin:$PATH"
export JSII_NODE="$PWD/$VENV/node-bin/node" JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_VERSION_CHECK=1 CDK_CLI_NOTICES=false
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
synth() {
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    npx cdk synth --quiet --output "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; rm -f "$out.log"; exit 1; }
}
# timed: "<wall s> <CPU s>" of one synth (CPU: user + system of the CLI, the app and
# jsii's node, which load on a shared machine does not inflate the way it does wall time).
timed() {
  local TIMEFORMAT='%R %U %S'
  { time synth; } 2>&1 | awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }'
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
read -r cold cold_cpu <<<"$(timed)"
read -r warm warm_cpu <<<"$(for _ in 1 2 3; do timed; done | sort -n | sed -n 2p)"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$out.log"
stacks=$(find "$out" -maxdepth 1 -name '*.template.json' | wc -l)
echo "cdk synth of ${stacks} stacks: cold ${cold} s (CPU ${cold_cpu} s), warm ${warm} s (CPU ${warm_cpu} s; median of 3; target: warm <= 20 s)"
echo "load average before: ${load_before}, after: ${load_after} ($(nproc) cores)"
