#!/bin/sh
# `aws` for task containers: the kit's AWS CLI (PyPI awscli, installed from its pinned
# wheelhouse into @@LIB@@ on the host and mounted read-only at the same path), run by the
# image's own python3. -I -S keep the image's site-packages and PYTHON* variables out, so
# an older botocore in the image cannot shadow the CLI's.
for py in python3 python3.13 python3.12 python3.11 python3.10 python; do
  if command -v "$py" >/dev/null 2>&1 \
    && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
    exec "$py" -I -S -c 'import sys
sys.path.insert(0, sys.argv.pop(1))
from awscli.clidriver import main
sys.exit(main())' "@@LIB@@" "$@"
  fi
done
echo "aws: the kit's AWS CLI (@@LIB@@) needs python3 >= 3.10 in the task image; none found" >&2
exit 127
