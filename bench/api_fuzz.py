# ruff: noqa: E501 - printed report lines
"""Schemathesis against ``ironside server``'s own ``/openapi.json``: no 500, nothing off-schema.

Usage: ``python bench/api_fuzz.py [--seconds 300] [--workers 1]``

Starts ``ironside server`` (a subprocess on a free loopback port, real engine,
SQLite) with canary secrets in its environment, runs ``schemathesis run`` for
``--seconds`` with the checks ``not_a_server_error``,
``response_schema_conformance``, ``status_code_conformance`` and
``content_type_conformance``, then prints the operations and test cases run,
the failures, and whether any canary reached the server log. Exits non-zero on
any failure (so the short run in the test suite is a pass/fail check too).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.fuzz_harness import fuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    rc, found, tail = fuzz(args.seconds, args.workers)
    took = time.monotonic() - started
    print(tail)
    print(
        f"schemathesis: {found['operations']} operations, {found['cases']} test cases, {found['failures']} failures in {took:.0f} s (exit {rc})"
    )
    print(
        f"server log: {found['tracebacks_in_log']} tracebacks, canary {'FOUND' if found['canary_in_log'] else 'absent'}"
    )
    return 0 if rc == 0 and not found["canary_in_log"] else 1


if __name__ == "__main__":
    sys.exit(main())
