#!/bin/bash
# fetch_and_run.sh: the command of every Ironside AWS Batch job.
#
# Downloads the task script at BATCH_FILE_S3_URL with the host's AWS CLI (bind-mounted
# read-only at /usr/local/aws-cli; `aws` on PATH otherwise), checks its size, then runs it
# with bash and exits with its exit code.
#
# An array job's children share one packed object: a table of 42-byte entries
# ("<offset> <length>\n", 20 digits each), one a child, then the scripts. A child reads its
# entry and then its script with two ranged GETs and checks the script's length.
#
# Environment:
#   BATCH_FILE_TYPE            "script" (BATCH_FILE_S3_URL is the script) or "packed" (an
#                              array job: BATCH_FILE_S3_URL is its packed scripts)
#   BATCH_FILE_S3_URL          s3://bucket/key
#   AWS_BATCH_JOB_ARRAY_INDEX  set by AWS Batch in an array job's children
#   FETCH_AND_RUN_ATTEMPTS     download attempts (default 5)
#   FETCH_AND_RUN_SLEEP_BASE   seconds; attempt n waits n * base before the next (default 2)
#   FETCH_AND_RUN_AWS_CLI      the preferred CLI (default /usr/local/aws-cli/v2/current/bin/aws)
#   AWS_ENDPOINT_URL           honoured by the AWS CLI (tests point it at a local S3)
set -uo pipefail

AWS_CLI_V2=${FETCH_AND_RUN_AWS_CLI:-/usr/local/aws-cli/v2/current/bin/aws}
ATTEMPTS=${FETCH_AND_RUN_ATTEMPTS:-5}
SLEEP_BASE=${FETCH_AND_RUN_SLEEP_BASE:-2}

die() {
  echo "fetch_and_run.sh: $*" >&2
  exit 1
}

find_aws_cli() {
  if [ -x "$AWS_CLI_V2" ]; then
    echo "$AWS_CLI_V2"
  elif command -v aws >/dev/null 2>&1; then
    command -v aws
  else
    die "no AWS CLI: neither $AWS_CLI_V2 (the host's, mounted read-only) nor aws on PATH"
  fi
}

ENTRY_BYTES=42

# get_range BUCKET KEY FIRST LAST DEST: bytes FIRST..LAST (inclusive) of the object.
get_range() {
  "$AWS" s3api get-object --bucket "$1" --key "$2" --range "bytes=$3-$4" "$5" >/dev/null
}

# size FILE: its length in bytes.
size() {
  wc -c <"$1" | tr -d ' '
}

# download_script URL BUCKET KEY DEST: one attempt, including the size check.
download_script() {
  local url=$1 bucket=$2 key=$3 dest=$4 expected actual
  expected=$("$AWS" s3api head-object --bucket "$bucket" --key "$key" \
    --query ContentLength --output text) || {
    echo "fetch_and_run.sh: cannot read the size of $url" >&2
    return 1
  }
  "$AWS" s3 cp --only-show-errors "$url" "$dest" || {
    echo "fetch_and_run.sh: download of $url failed" >&2
    return 1
  }
  actual=$(size "$dest")
  if [ "$actual" != "$expected" ]; then
    echo "fetch_and_run.sh: $url: downloaded $actual bytes, S3 says $expected" >&2
    return 1
  fi
}

# download_packed URL BUCKET KEY DEST: one attempt at child INDEX's script of a packed object.
download_packed() {
  local url=$1 bucket=$2 key=$3 dest=$4 first offset length rest actual
  first=$((INDEX * ENTRY_BYTES))
  get_range "$bucket" "$key" "$first" "$((first + ENTRY_BYTES - 1))" "$dest.entry" || {
    echo "fetch_and_run.sh: reading entry $INDEX of $url failed" >&2
    return 1
  }
  read -r offset length rest <"$dest.entry"
  if ! [[ $offset =~ ^[0-9]{20}$ && $length =~ ^[0-9]{20}$ && -z $rest ]]; then
    echo "fetch_and_run.sh: $url: entry $INDEX is not '<offset> <length>': '$(head -c 60 "$dest.entry")'" >&2
    return 1
  fi
  offset=$((10#$offset)) length=$((10#$length))
  get_range "$bucket" "$key" "$offset" "$((offset + length - 1))" "$dest" || {
    echo "fetch_and_run.sh: reading the script of child $INDEX from $url failed" >&2
    return 1
  }
  actual=$(size "$dest")
  if [ "$actual" != "$length" ]; then
    echo "fetch_and_run.sh: $url: downloaded $actual bytes of child $INDEX's script, its entry says $length" >&2
    return 1
  fi
}

# download URL BUCKET KEY DEST: one attempt, by BATCH_FILE_TYPE.
download() {
  if [ "$BATCH_FILE_TYPE" = packed ]; then
    download_packed "$@"
  else
    download_script "$@"
  fi
}

# array_index: the child's index, from AWS Batch.
array_index() {
  local index=${AWS_BATCH_JOB_ARRAY_INDEX:-}
  case "$index" in
    '' | *[!0-9]*) die "BATCH_FILE_TYPE is 'packed' (an array job's scripts) but AWS_BATCH_JOB_ARRAY_INDEX is '$index', not an index" ;;
  esac
  echo "$index"
}

main() {
  local url=${BATCH_FILE_S3_URL:-}
  case "${BATCH_FILE_TYPE:-}" in
    script) ;;
    packed) INDEX=$(array_index) || exit 1 ;;
    *) die "BATCH_FILE_TYPE must be 'script' or 'packed', not '${BATCH_FILE_TYPE:-}'" ;;
  esac
  case "$url" in
    s3://?*/?*) ;;
    *) die "BATCH_FILE_S3_URL must be s3://bucket/key, not '$url'" ;;
  esac
  case "$ATTEMPTS$SLEEP_BASE" in
    *[!0-9]*) die "FETCH_AND_RUN_ATTEMPTS and FETCH_AND_RUN_SLEEP_BASE must be whole numbers" ;;
  esac
  local rest=${url#s3://}
  local bucket=${rest%%/*} key=${rest#*/}
  AWS=$(find_aws_cli) || exit 1
  local dir script attempt
  dir=$(mktemp -d "${TMPDIR:-/tmp}/fetch_and_run.XXXXXX") || die "cannot create a temporary directory"
  script="$dir/$(basename "$key")"
  for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
    if download "$url" "$bucket" "$key" "$script"; then
      chmod u+x "$script"
      exec bash "$script" "$@"
    fi
    if ((attempt < ATTEMPTS)); then
      echo "fetch_and_run.sh: attempt $attempt/$ATTEMPTS failed; retrying in $((attempt * SLEEP_BASE)) s" >&2
      sleep $((attempt * SLEEP_BASE))
    fi
  done
  rm -rf "$dir"
  die "giving up on $url after $ATTEMPTS attempts"
}

main "$@"
