#!/usr/bin/env bash
# Run examples/hello on Ironside's embedded default config (local backend,
# ./ironside-executions/, SQLite) and print its outputs.
# Usage: examples/run_demo.sh [WORK_DIR]   (default: a fresh temporary directory)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${1:-$(mktemp -d -t ironside-demo-XXXXXX)}"
mkdir -p "$work"
cd "$work"
unset IRONSIDE_CONFIG
echo "ironside demo: running examples/hello in $work" >&2
ironside run "$here/hello/hello.wdl" -i "$here/hello/inputs.json" -m "$work/metadata.json"
echo "ironside demo: metadata in $work/metadata.json" >&2
