"""``python -m stacks.portable --bucket B [--prefix P]``: package the portable templates.

Bad input (no bucket, an invalid bucket name or prefix, a bad ``-c`` setting, a bucket
that cannot be reached) prints one line on stderr and exits 2 before anything is uploaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from stacks.portable.validate import BadInput, check_bucket, check_prefix

EXIT_BAD_INPUT = 2


def _context(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as context; values are JSON when they parse, else strings."""
    context: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"-c {pair!r}: expected KEY=VALUE")
        try:
            context[key] = json.loads(value)
        except json.JSONDecodeError:
            context[key] = value
    return context


class _Parser(argparse.ArgumentParser):
    """Command-line errors are bad input too: one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"package: {message}\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = _Parser(prog="python -m stacks.portable", description=__doc__)
    parser.add_argument("--bucket", default="", help="the distribution bucket (required)")
    parser.add_argument("--prefix", default="ironside", help="key prefix (default: ironside)")
    parser.add_argument("--version", default=None, help="version part of the prefix")
    parser.add_argument("--dist", type=Path, default=Path("dist"), help="output directory")
    parser.add_argument(
        "--existing-vpc",
        type=int,
        default=None,
        metavar="ZONES",
        help="templates that deploy into an existing VPC with ZONES availability zones",
    )
    parser.add_argument(
        "-c", "--context", action="append", default=[], help="ironside:KEY=VALUE setting"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Validate, then package; one line on stderr and exit 2 on bad input."""
    args = parse_args(argv)
    try:
        request = _request(args)
        client = _reachable_bucket(request.bucket)
    except (BadInput, ValueError) as error:
        print(f"package: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from stacks.portable.package import package

    data = package(request, client)
    print(
        f"packaged {len(data['stacks'])} stacks and {len(data['assets'])} assets to "
        f"s3://{request.bucket}/{request.base}/; templates and manifest in {request.dist}/"
    )
    return 0


def _request(args: argparse.Namespace) -> Any:
    """The validated request (settings included, so a bad ``-c`` fails here)."""
    bucket = check_bucket(args.bucket)
    prefix = check_prefix(args.prefix)
    # The CDK (and its node process) loads only once the cheap checks have passed.
    from stacks.portable.package import PackageRequest, app_context, kit_version
    from stacks.settings import KNOWN_KEYS, PREFIX, Settings

    version = check_prefix(args.version or kit_version(), "VERSION")
    context = _context(args.context)
    merged = app_context(context)
    Settings.from_mapping(
        {key: merged[PREFIX + key] for key in KNOWN_KEYS if PREFIX + key in merged}
    )
    zones = args.existing_vpc
    if zones is not None and not 2 <= zones <= 6:
        raise BadInput(f"--existing-vpc {zones}: a VPC of 2 to 6 availability zones")
    return PackageRequest(bucket, prefix, version, args.dist, context, zones)


def _reachable_bucket(bucket: str) -> Any:
    """An S3 client (``AWS_ENDPOINT_URL`` honoured) after checking the bucket is there."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("s3")
    try:
        client.head_bucket(Bucket=bucket)
    except (ClientError, BotoCoreError) as error:
        raise BadInput(f"bucket {bucket!r} cannot be reached: {error}") from None
    return client


if __name__ == "__main__":
    sys.exit(main())
