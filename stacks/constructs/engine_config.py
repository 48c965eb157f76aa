"""The engine's HOCON config, rendered from stack values (CDK tokens allowed).

Every key written here is one the engine reads (``ironside.config`` and the AWS Batch
backend's ``parse_settings`` / ``parse_runtime``); ``tests/stacks/test_engine_config.py``
loads the rendered text with the engine's own loader and fails on any key it ignores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Name of the backend provider in the rendered config.
BACKEND_NAME = "AWSBatch"


@dataclass(frozen=True)
class EngineConfigValues:
    """Values written into ``/etc/ironside/ironside.conf``.

    Attributes:
        root: execution root, ``s3://<results bucket>/executions``.
        default_queue_arn: ``default-runtime-attributes.queueArn``.
        priority_queue_arn: the ``priority`` queue (users name it in ``queueArn``; only
            a comment in the config, for them to find).
        scripts_bucket: ``default-runtime-attributes.scriptBucketName``.
        jobs_log_group: ``default-runtime-attributes.logGroupName``.
        mirrors: ``docker-mirror.<registry>.address`` by the engine's registry key
            (``dockerhub``, ``ecr-public``, ``quay``, ``ghcr``); a registry without an entry
            is pulled from upstream directly (default none).
        default_job_role_arn: job role when a workflow names none.
        allowed_job_role_arns: roles ``aws_batch_job_role_arn`` may name (default none
            besides the default role).
        gpu_queue_arn: ``default-runtime-attributes.gpuQueueArn``, where tasks with
            ``gpuCount > 0`` go (default ``None``: no GPU queue).
        port: API port (default 8000).
        concurrent_job_limit: jobs in flight (default 1000).
    """

    root: str
    default_queue_arn: str
    priority_queue_arn: str
    scripts_bucket: str
    jobs_log_group: str
    default_job_role_arn: str
    mirrors: Mapping[str, str] = field(default_factory=dict)
    allowed_job_role_arns: Sequence[str] = field(default_factory=tuple)
    gpu_queue_arn: str | None = None
    port: int = 8000
    concurrent_job_limit: int = 1000


def render_engine_config(v: EngineConfigValues) -> str:
    """HOCON with Cromwell's key names; the database URL comes from the environment.

    ``IRONSIDE_DATABASE_URL`` is set by ``ironside-env.sh`` from the database secret at
    service start, so no credential is ever written to disk outside ``/run``. The region
    comes from the host (``AWS_REGION`` in the service environment), not from config.

    The host paths job definitions mount (``/usr/local/bin/fetch_and_run.sh``,
    ``/usr/local/aws-cli``, the ``/cromwell_root`` scratch disk) are constants of the
    engine (``ironside.backends.aws_batch.job_definitions``), which reads no config key
    for them; the launch template installs exactly those paths.
    """
    roles = json.dumps([v.default_job_role_arn, *v.allowed_job_role_arns])
    gpu = f'\n          gpuQueueArn = "{v.gpu_queue_arn}"' if v.gpu_queue_arn else ""
    mirrors = "".join(
        f'\n          {key} {{ enabled = true, address = "{address}" }}'
        for key, address in v.mirrors.items()
    )
    return f"""# Written by the Ironside kit at instance launch; edit the stack, not this file.
# Priority queue (set runtime attribute queueArn to it): {v.priority_queue_arn}
webservice {{ interface = "0.0.0.0", port = {v.port} }}
call-caching {{ enabled = true }}
docker {{ hash-lookup {{ enabled = true }} }}
database {{ url = ${{IRONSIDE_DATABASE_URL}} }}
backend {{
  default = "{BACKEND_NAME}"
  providers {{
    {BACKEND_NAME} {{
      actor-factory = "cromwell.backend.impl.aws.AwsBatchBackendLifecycleActorFactory"
      config {{
        root = "{v.root}"
        numSubmitAttempts = 6
        numCreateDefinitionAttempts = 6
        concurrent-job-limit = {v.concurrent_job_limit}
        job-role-arn = "{v.default_job_role_arn}"
        allowed-job-role-arns = {roles}
        default-runtime-attributes {{
          queueArn = "{v.default_queue_arn}"
          scriptBucketName = "{v.scripts_bucket}"
          logGroupName = "{v.jobs_log_group}"{gpu}
        }}
        filesystems {{
          s3 {{ auth = "default", caching {{ duplication-strategy = "copy" }} }}
        }}
        docker-mirror {{{mirrors}
        }}
      }}
    }}
  }}
}}
"""
