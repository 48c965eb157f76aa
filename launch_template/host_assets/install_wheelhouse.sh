#!/bin/bash
# install_wheelhouse.sh PYTHON DIR SHA256 [PIP_INSTALL_ARGS...]
#
# Installs a kit wheelhouse (stacks/wheelhouse.py) with no index: first checks that
# DIR/requirements.txt, the manifest, has the SHA-256 the template carries, then has pip
# install exactly its pins, each wheel checked against the manifest's hashes
# (--require-hashes: a changed wheel, or a dependency the manifest lacks, fails).
# Extra arguments go to `pip install` (e.g. --target DIR, or -r FILE with more pins).
# Shared by the engine host (bootstrap.sh) and the Batch hosts (install.sh).
set -Eeuo pipefail
[ $# -ge 3 ] || {
  echo "usage: install_wheelhouse.sh PYTHON DIR SHA256 [PIP_INSTALL_ARGS...]" >&2
  exit 2
}
python=$1 dir=$2 expected=$3
shift 3
manifest=$dir/requirements.txt
[ -f "$manifest" ] || {
  echo "install_wheelhouse.sh: no manifest at $manifest" >&2
  exit 1
}
actual=$(sha256sum "$manifest" | cut -d' ' -f1)
if [ "$actual" != "$expected" ]; then
  echo "install_wheelhouse.sh: $manifest has SHA-256 $actual, the template says $expected" >&2
  exit 1
fi
"$python" -m pip install --quiet --disable-pip-version-check --no-input --isolated \
  --no-index --find-links "$dir" --only-binary=:all: --require-hashes \
  -r "$manifest" "$@"
