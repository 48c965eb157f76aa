"""User data for Ironside's AWS Batch hosts (MIME multi-part, as Batch requires).

``build_user_data(UserDataOptions(...))`` returns the MIME text; the Batch stack wraps it in
``Fn::Base64`` and puts it on the compute environment's launch template.  It is kept small
(EC2 allows 16 KB, and Batch adds its own part): two ``text/x-shellscript`` parts,

1. ``ironside-ecs-agent.sh`` appends the ECS agent settings in :data:`ECS_AGENT_SETTINGS`
   (Spot draining, ``prefer-cached`` pulls, container stop timeout, image and task cleanup)
   to ``/etc/ecs/ecs.config``;
2. ``ironside-host-setup.sh`` installs the distribution's AWS CLI for the host itself,
   appends Docker Hub credentials from Secrets Manager to the ECS agent's auth settings
   (``dockercfg`` format; the secret is read at boot and never appears in the user data)
   when ``docker_hub_secret_arn`` is set, writes the EBS autoscale config to
   ``/etc/ironside/ebs-autoscale.json``, downloads the zipped :data:`HOST_ASSETS_DIR` from
   ``host_assets_url`` and the AWS CLI wheelhouse from ``aws_cli_url`` and runs
   ``install.sh``: ``fetch_and_run.sh`` to ``/usr/local/bin``, the task containers' AWS CLI
   under ``/usr/local/aws-cli`` (bind-mounted read-only; installed offline from the
   wheelhouse after its manifest matched ``aws_cli_sha256``), the CloudWatch agent shipping
   host logs to ``host_log_group``, and the EBS autoscale daemon, which first creates the
   scratch file system at ``scratch_mount`` (btrfs where btrfs-progs exists, i.e. Amazon
   Linux 2; ext4 on LVM on Amazon Linux 2023) and then runs as the systemd service
   ``ironside-ebs-autoscale``.  ``launch_template/README.md`` lists its config keys.

Nothing comes from the internet: packages from the Amazon Linux repositories (in S3, so
the S3 gateway endpoint serves them), the rest from the kit's S3 assets.

A step that fails masks and stops the ECS agent and powers the host off, so Batch replaces
it instead of placing jobs on a half-ready host (the reasoning is in ``parts/prelude.sh``).

For the stack and its tests
---------------------------
* Ship :data:`HOST_ASSETS_DIR` as one S3 asset (zip), excluding :data:`HOST_ASSETS_EXCLUDE`;
  its ``s3://`` URL (``asset.s3_object_url``) is ``host_assets_url``.  Tokens in any string
  option are interpolated as text.
* The user data contains the markers ``ECS_ENABLE_SPOT_INSTANCE_DRAINING=true``,
  ``ECS_IMAGE_PULL_BEHAVIOR=prefer-cached``, ``IRONSIDE_AWS_CLI_URL=`` and
  ``IRONSIDE_AWS_CLI_SHA256=``.
* Volumes the daemon creates carry the instance's tags plus :data:`AUTOSCALE_TAG`
  (``ironside:autoscale`` = ``true``) and :data:`AUTOSCALE_INSTANCE_TAG_KEY` (the instance
  id); they are created with that tag, so ``ec2:CreateVolume`` can be conditioned on
  ``aws:RequestTag/ironside:autoscale`` and attach, detach and delete on
  ``aws:ResourceTag/ironside:autoscale``.
* The instance role needs :data:`DAEMON_EC2_ACTIONS` (plus ``kms:CreateGrant``,
  ``kms:GenerateDataKeyWithoutPlaintext``, ``kms:Decrypt`` and ``kms:DescribeKey`` on the
  key when ``autoscale["volume"]["kms_key_id"]`` is a customer key), :data:`HOST_SETUP_ACTIONS`
  (``s3:GetObject`` on both assets, ``secretsmanager:GetSecretValue`` on the Docker Hub
  secret) and what the CloudWatch agent needs (``CloudWatchAgentServerPolicy``) besides the
  usual ``AmazonEC2ContainerServiceforEC2Role``.
* Setting the launch template's ``instance_initiated_shutdown_behavior`` to ``terminate``
  makes the failure path above free the instance at once instead of leaving it stopped until
  the group replaces it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

from launch_template.host_assets.ebs_autoscale.config import merge_config

#: The directory the stack ships as one zipped S3 asset.
HOST_ASSETS_DIR: Path = Path(__file__).resolve().parent / "host_assets"
#: Globs to leave out of that asset (bytecode, which would change the asset hash).
HOST_ASSETS_EXCLUDE: tuple[str, ...] = ("__pycache__", "*.pyc")
#: The tag every daemon-created volume carries (key, value).
AUTOSCALE_TAG: tuple[str, str] = ("ironside:autoscale", "true")
#: The tag holding the id of the instance a daemon-created volume belongs to.
AUTOSCALE_INSTANCE_TAG_KEY = "ironside:autoscale-instance"
#: EC2 actions the EBS autoscale daemon calls.
DAEMON_EC2_ACTIONS: tuple[str, ...] = (
    "ec2:AttachVolume",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteVolume",
    "ec2:DescribeInstances",
    "ec2:DescribeVolumes",
    "ec2:DetachVolume",
    "ec2:ModifyInstanceAttribute",
)
#: Other actions the host setup itself calls.
HOST_SETUP_ACTIONS: tuple[str, ...] = ("s3:GetObject", "secretsmanager:GetSecretValue")
#: ECS agent settings appended to /etc/ecs/ecs.config.
ECS_AGENT_SETTINGS: Mapping[str, str] = {
    "ECS_ENABLE_SPOT_INSTANCE_DRAINING": "true",
    "ECS_IMAGE_PULL_BEHAVIOR": "prefer-cached",
    "ECS_CONTAINER_STOP_TIMEOUT": "60s",
    "ECS_DISABLE_IMAGE_CLEANUP": "false",
    "ECS_IMAGE_CLEANUP_INTERVAL": "10m",
    "ECS_IMAGE_MINIMUM_CLEANUP_AGE": "30m",
    "ECS_NUM_IMAGES_DELETE_PER_CYCLE": "10",
    "ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION": "10m",
}
#: The fixed MIME boundary (a random one would change the template on every synth).
MIME_BOUNDARY = "==IRONSIDE-USER-DATA-BOUNDARY=="
#: EC2's user data limit, in bytes before base64.
USER_DATA_LIMIT = 16 * 1024

_PARTS_DIR = Path(__file__).resolve().parent / "parts"


@dataclass(frozen=True)
class UserDataOptions:
    """What the Batch hosts' user data needs to know.

    Attributes:
        host_assets_url: ``s3://`` URL of the zipped :data:`HOST_ASSETS_DIR` asset.
        region: the stack's region.
        host_log_group: CloudWatch log group for host logs.
        aws_cli_url: ``s3://`` URL of the zipped AWS CLI wheelhouse
            (``stacks.wheelhouse.aws_cli_wheelhouse``).
        aws_cli_sha256: SHA-256 of that wheelhouse's ``requirements.txt`` manifest.
        aws_cli_kind: ``wheelhouse`` (default), or ``bundle`` when ``aws_cli_url`` is a
            directory of AWS CLI v2 bundles and ``aws_cli_sha256`` that of its
            ``SHA256SUMS`` (``stacks/aws_cli_bundle.py``).
        docker_hub_secret_arn: Secrets Manager secret holding base64 of ``user:token``
            for Docker Hub; ``None`` (default) configures no credentials.
        autoscale: overrides merged over the daemon's default JSON config
            (``ebs_autoscale.config.DEFAULT_CONFIG``); numbers must be concrete, strings
            may be tokens.  Default: no overrides.
        scratch_mount: the task scratch file system (default ``/cromwell_root``), which the
            daemon manages; it overrides ``autoscale["mountpoint"]``.
    """

    host_assets_url: str
    region: str
    host_log_group: str
    aws_cli_url: str
    aws_cli_sha256: str
    aws_cli_kind: str = "wheelhouse"
    docker_hub_secret_arn: str | None = None
    autoscale: Mapping[str, Any] = field(default_factory=dict)
    scratch_mount: str = "/cromwell_root"


def autoscale_config(options: UserDataOptions) -> dict[str, Any]:
    """The daemon config file the hosts get: the overrides plus the scratch mount.

    The daemon merges it over its defaults; merging here too rejects unknown keys at synth.
    """
    overrides = {**options.autoscale, "mountpoint": options.scratch_mount}
    merge_config(overrides)
    return overrides


def build_user_data(options: UserDataOptions) -> str:
    """Render the MIME multi-part user data for ``options``."""
    message = MIMEMultipart("mixed", boundary=MIME_BOUNDARY)
    for filename, script in shell_parts(options):
        part = MIMEText(script, "x-shellscript", "us-ascii")
        part.add_header("Content-Disposition", "attachment", filename=filename)
        message.attach(part)
    text = message.as_string()
    if len(text.encode()) > USER_DATA_LIMIT:
        raise ValueError(f"user data is {len(text.encode())} bytes, over EC2's {USER_DATA_LIMIT}")
    return text


def shell_parts(options: UserDataOptions) -> list[tuple[str, str]]:
    """The shell scripts of the user data, as (file name, script) in run order."""
    ecs_config = "\n".join(f"{key}={value}" for key, value in ECS_AGENT_SETTINGS.items())
    host_values = {
        "HOST_ASSETS_URL": _quote(options.host_assets_url),
        "AWS_CLI_URL": _quote(options.aws_cli_url),
        "AWS_CLI_SHA256": _quote(options.aws_cli_sha256),
        "AWS_CLI_KIND": _quote(_choice(options.aws_cli_kind, ("wheelhouse", "bundle"))),
        "REGION": _quote(options.region),
        "HOST_LOG_GROUP": _quote(options.host_log_group),
        "DOCKER_HUB_SECRET_ARN": _quote(options.docker_hub_secret_arn or ""),
        "SCRATCH_MOUNT": _quote(options.scratch_mount),
        "AUTOSCALE_JSON": json.dumps(autoscale_config(options), indent=1, sort_keys=True),
    }
    return [
        ("ironside-ecs-agent.sh", _render("ecs_agent.sh", {"ECS_CONFIG": ecs_config})),
        ("ironside-host-setup.sh", _render("host_setup.sh", host_values)),
    ]


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"expected one of {', '.join(allowed)}, not {value!r}")
    return value


def _quote(value: str) -> str:
    """Single-quote a value for bash (CDK token text survives as literal characters)."""
    return shlex.quote(value) if value else "''"


def _render(name: str, values: Mapping[str, str]) -> str:
    prelude = (_PARTS_DIR / "prelude.sh").read_text()
    text = prelude.replace("@@PART@@", name) + "\n" + (_PARTS_DIR / name).read_text()
    text = _strip_comments(text)
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    if "@@" in text:
        raise ValueError(f"unrendered placeholder in user data part {name}")
    return text


def _strip_comments(script: str) -> str:
    """Drop full-line comments (not the shebang) to keep the user data small."""
    lines = script.splitlines()
    kept = [line for line in lines[1:] if not line.lstrip().startswith("# ")]
    return "\n".join([lines[0], *kept]) + "\n"
