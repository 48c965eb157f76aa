"""The AWS Batch backend: S3-staged task scripts, reusable job definitions, batched status.

Modules, each small and shared by all jobs: ``settings`` (config subtree),
``runtime_attributes``, ``options`` (workflow options), ``images`` (docker
mirror), ``job_definitions``, ``scripts`` (staging), ``throttle`` (adaptive
rate limiter and retries), ``poller`` (DescribeJobs), ``clients`` (boto3
clients configured for it) and ``backend``.
"""

from .backend import AwsBatchBackend, JobLimitReached, SubmittedJob, job_name
from .clients import make_clients
from .settings import AwsBatchSettings, parse_settings

__all__ = [
    "AwsBatchBackend",
    "AwsBatchSettings",
    "JobLimitReached",
    "SubmittedJob",
    "job_name",
    "make_clients",
    "parse_settings",
]
