"""The engine's HOCON config, rendered from stack values (CDK tokens allowed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Name of the backend provider in the rendered config.
BACKEND_NAME = "AWSBatch"


@dataclass(frozen=True)
class EngineConfigValues:
    """Values written into ``/etc/ironside/ironside.conf``.

    Attributes:
        region: AWS region of the platform.
        root: execution root, ``s3://<results bucket>/executions``.
        default_queue_arn: ``default-runtime-attributes.queueArn``.
        priority_queue_arn: the ``priority`` queue (users select it per task).
        scripts_bucket: ``default-runtime-attributes.scriptBucketName``.
        jobs_log_group: ``default-runtime-attributes.logGroupName``.
        docker_hub_mirror: ``docker-mirror.dockerhub.address``.
        ecr_public_mirror: pull-through address for ``public.ecr.aws`` images.
        job_definition_prefix: job definitions are named ``<prefix>-<hash>``.
        default_job_role_arn: job role when a workflow names none.
        allowed_job_role_arns: roles ``aws_batch_job_role_arn`` may name (default none
            besides the default role).
        port: API port (default 8000).
        concurrent_job_limit: jobs in flight (default 1000).
    """

    region: str
    root: str
    default_queue_arn: str
    priority_queue_arn: str
    scripts_bucket: str
    jobs_log_group: str
    docker_hub_mirror: str
    ecr_public_mirror: str
    job_definition_prefix: str
    default_job_role_arn: str
    allowed_job_role_arns: Sequence[str] = field(default_factory=tuple)
    port: int = 8000
    concurrent_job_limit: int = 1000


def render_engine_config(v: EngineConfigValues) -> str:
    """HOCON with Cromwell's key names; the database URL comes from the environment.

    ``IRONSIDE_DATABASE_URL`` is set by ``ironside-env.sh`` from the database secret at
    service start, so no credential is ever written to disk outside ``/run``.

    The host paths job definitions mount (``/usr/local/bin/fetch_and_run.sh``,
    ``/usr/local/aws-cli``, the ``/cromwell_root`` scratch disk) are constants of the
    engine (``ironside.backends.aws_batch.job_definitions``), which reads no config key
    for them; the launch template installs exactly those paths.
    """
    roles = json.dumps([v.default_job_role_arn, *v.allowed_job_role_arns])
    return f"""# Written by the Ironside kit at instance launch; edit the stack, not this file.
webservice {{ interface = "0.0.0.0", port = {v.port} }}
aws {{
  application-name = "ironside"
  default-region = "{v.region}"
  auths = [{{ name = "default", scheme = "default" }}]
}}
engine {{ filesystems {{ s3 {{ auth = "default" }} }} }}
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
        auth = "default"
        numSubmitAttempts = 6
        numCreateDefinitionAttempts = 6
        concurrent-job-limit = {v.concurrent_job_limit}
        job-definition-prefix = "{v.job_definition_prefix}"
        job-role-arn = "{v.default_job_role_arn}"
        allowed-job-role-arns = {roles}
        queues {{ default = "{v.default_queue_arn}", priority = "{v.priority_queue_arn}" }}
        default-runtime-attributes {{
          queueArn = "{v.default_queue_arn}"
          scriptBucketName = "{v.scripts_bucket}"
          logGroupName = "{v.jobs_log_group}"
        }}
        filesystems {{
          s3 {{ auth = "default", caching {{ duplication-strategy = "copy" }} }}
        }}
        docker-mirror {{
          dockerhub {{ enabled = true, address = "{v.docker_hub_mirror}" }}
          ecr-public {{ enabled = true, address = "{v.ecr_public_mirror}" }}
        }}
      }}
    }}
  }}
}}
"""
