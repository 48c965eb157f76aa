"""Deploy rehearsal: the portable templates in a simulated account, then a workflow.

One moto server on 127.0.0.1 is the account. The operator packages the kit, creates the
stacks in the manifest's order (outputs to parameters), and the engine's config is the
one the engine instance's user data writes. ``ironside server`` runs with that config
against the account, cromshell submits a two-task workflow whose input is in a users'
bucket (``readBuckets``), the Batch job agent runs the jobs (``fetch_and_run.sh``), and
the output must land in the results bucket.

The second test does it again with moto's IAM enforcement on: the engine calls AWS with
credentials of the engine role the kit created, the jobs with those of its job role, so
a missing or over-narrow permission fails the test. What moto cannot check is listed in
:data:`MOTO_CANNOT_EVALUATE` and asserted to be exactly what the roles use.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import httpx
import pytest
from moto import settings as moto_settings
from moto.batch.responses import BatchResponse
from moto.iam.access_control import IAMRequest

from ironside.backends.aws_batch import wiring
from ironside.server.app import create_app
from ironside.server.engine_adapter import build_engine_port
from ironside.server.settings import ServerSettings
from tests.deploy import simulated_account as account
from tests.e2e import batch_harness
from tests.e2e.batch_harness import NEEDS_AGENT, REGION, JobAgent, client, start_moto
from tests.e2e.server_proc import wait_status
from tests.e2e.test_server_cromshell import UUID, Cromshell
from tests.runtime.server.live import serve

pytestmark = [pytest.mark.slow, *NEEDS_AGENT]

#: A digest-pinned image: the engine never asks a registry on the internet for it.
IMAGE = "ubuntu@sha256:" + "0" * 64
WDL = f"""version 1.0
task shout {{
  input {{ File text }}
  command <<< tr a-z A-Z < ~{{text}} > shouted.txt >>>
  output {{ File shouted = "shouted.txt" }}
  runtime {{ docker: "{IMAGE}"  cpu: 1  memory: "512 MB" }}
}}
task measure {{
  input {{ File text }}
  command <<< wc -c < ~{{text}} | tr -d ' ' > size.txt >>>
  output {{ Int size = read_int("size.txt") }}
  runtime {{ docker: "{IMAGE}"  cpu: 1  memory: "512 MB" }}
}}
workflow rehearse {{
  input {{ File text }}
  call shout {{ input: text = text }}
  call measure {{ input: text = shout.shouted }}
  output {{ File shouted = shout.shouted  Int size = measure.size }}
}}
"""
INPUT_KEY = "samples/greeting.txt"
#: Resource types of the portable templates moto's CloudFormation lacks (skipped by it).
EXPECTED_UNSUPPORTED = {
    "ironside-storage": {"AWS::S3::BucketPolicy"},
    "ironside-observability": {"AWS::CloudWatch::Alarm", "AWS::SNS::TopicPolicy"},
    "ironside-registry": {
        "AWS::ECR::PullThroughCacheRule",
        "AWS::ECR::RepositoryCreationTemplate",
    },
    "ironside-database": {
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBClusterParameterGroup",
        "AWS::SecretsManager::Secret",
        "AWS::SecretsManager::SecretTargetAttachment",
    },
    "ironside-engine": {"AWS::SecretsManager::Secret"},
}
#: IAM condition keys the kit's roles use that moto's policy evaluation cannot check
#: (moto evaluates conditions only for role trust; a conditioned Allow never matches).
MOTO_CANNOT_EVALUATE = {
    "aws:TagKeys",
    "aws:ResourceTag/ironside:workflow-id",
    "cloudwatch:namespace",
    "ec2:CreateAction",
}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[account.Deployment]:
    """Package, deploy every stack, put the users' input in place."""
    server, endpoint = start_moto()
    try:
        manifest = account.package(endpoint, tmp_path_factory.mktemp("rehearsal") / "dist")
        deployed = account.deploy(endpoint, manifest)
        client("s3", endpoint).create_bucket(Bucket=account.INPUTS_BUCKET)
        client("s3", endpoint).put_object(
            Bucket=account.INPUTS_BUCKET, Key=INPUT_KEY, Body=b"hello from the lab\n"
        )
        yield deployed
    finally:
        request = urllib.request.Request(f"{endpoint}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        server.stop()


def test_every_stack_deploys_in_order_with_outputs_as_parameters(
    deployment: account.Deployment,
) -> None:
    names = [s["name"] for s in sorted(deployment.manifest["stacks"], key=lambda s: s["order"])]
    assert list(deployment.outputs) == names
    assert {k: v for k, v in deployment.unsupported.items() if v} == EXPECTED_UNSUPPORTED
    batch = client("batch", deployment.endpoint)
    queues = {q["jobQueueName"]: q for q in batch.describe_job_queues()["jobQueues"]}
    assert set(queues) == {"ironside-default", "ironside-priority"}
    default_order = queues["ironside-default"]["computeEnvironmentOrder"]
    assert len(default_order) == 2  # Spot first, then On-Demand
    environments = batch.describe_compute_environments()["computeEnvironments"]
    assert {e["computeResources"]["type"] for e in environments} == {"SPOT", "EC2"}
    # The config the instance's user data writes: the deployed queue, buckets and roles.
    config = deployment.engine_config
    assert f'queueArn = "{deployment.output("BatchComputeDefaultQueueJobQueueArn")}"' in config
    assert f'job-role-arn = "{deployment.output("IamJobRoleArn")}"' in config
    assert deployment.host_env["IRONSIDE_DATABASE_SECRET_ARN"].startswith("arn:aws:secretsmanager")


def _run_workflow(
    deployment: account.Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine_credentials: dict[str, str],
    job_credentials: dict[str, str],
) -> tuple[str, dict[str, Any]]:
    """ironside server on the rendered config; cromshell submits; the agent runs the jobs."""
    endpoint = deployment.endpoint
    config = tmp_path / "ironside.conf"
    config.write_text(deployment.engine_config)
    environment = {
        **{k: v for k, v in deployment.host_env.items() if k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": endpoint,
        # Aurora is not in moto: ironside-env.sh's URL is replaced by SQLite.
        "IRONSIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'ironside.sqlite'}",
        **engine_credentials,
    }
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    # The agent plays ECS: it reads the job as the engine can, runs it as the job role.
    agent = JobAgent(endpoint, tmp_path / "host")
    agent.batch = _client("batch", endpoint, engine_credentials)
    as_operator = batch_harness.aws_env
    monkeypatch.setattr(
        batch_harness, "aws_env", lambda url: {**as_operator(url), **job_credentials}
    )
    real = wiring.make_clients

    def make_clients(settings: Any, **kwargs: Any) -> tuple[Any, Any]:
        batch, s3 = real(settings, **kwargs)
        agent.attach(batch)
        return batch, s3

    monkeypatch.setattr(wiring, "make_clients", make_clients)
    port = build_engine_port(str(config), max_workflows=1)
    app = create_app(ServerSettings(), port)
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            cromshell = Cromshell(tmp_path / "home", url)
            wdl = cromshell.home / "rehearse.wdl"
            wdl.write_text(WDL)
            inputs = cromshell.home / "inputs.json"
            text = f"s3://{account.INPUTS_BUCKET}/{INPUT_KEY}"
            inputs.write_text(json.dumps({"rehearse.text": text}))
            [workflow_id, *_] = UUID.findall(cromshell("submit", str(wdl), str(inputs)).stdout)
            status = wait_status(http, workflow_id, {"Succeeded", "Failed", "Aborted"})
            metadata = http.get(f"/api/workflows/v1/{workflow_id}/metadata").json()
            assert status == "Succeeded", json.dumps(metadata)[:4000] + _runs(agent)
            outputs = http.get(f"/api/workflows/v1/{workflow_id}/outputs").json()["outputs"]
    finally:
        port.stop()
    assert [run.returncode for run in agent.runs] == [0, 0], _runs(agent)
    return workflow_id, outputs


def _runs(agent: JobAgent) -> str:
    return "".join(
        f"\n--- job rc={r.returncode}\n{r.stdout[-1500:]}{r.stderr[-1500:]}" for r in agent.runs
    )


def _client(service: str, endpoint: str, credentials: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
    )


def _check_output(deployment: account.Deployment, outputs: dict[str, Any]) -> None:
    results = f"ironside-results-{_account_id(deployment)}-{REGION}"
    shouted = outputs["rehearse.shouted"]
    assert shouted.startswith(f"s3://{results}/executions/rehearse/")
    key = shouted[len(f"s3://{results}/") :]
    body = client("s3", deployment.endpoint).get_object(Bucket=results, Key=key)["Body"].read()
    assert body == b"HELLO FROM THE LAB\n"
    assert outputs["rehearse.size"] == len(body)


def _account_id(deployment: account.Deployment) -> str:
    return deployment.output("IamJobRoleArn").split(":")[4]


TESTING = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def test_workflow_runs_on_the_deployed_platform(
    deployment: account.Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, outputs = _run_workflow(deployment, tmp_path, monkeypatch, TESTING, TESTING)
    _check_output(deployment, outputs)


def _assume(deployment: account.Deployment, role_arn: str) -> dict[str, str]:
    credentials = client("sts", deployment.endpoint).assume_role(
        RoleArn=role_arn, RoleSessionName="rehearsal"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


_BATCH_OPERATIONS = {
    name.lower(): name
    for name in botocore.session.get_session().get_service_model("batch").operation_names
}


class _BatchIAMRequest(IAMRequest):
    """moto names Batch actions by their lower-case path (``batch:submitjob``); IAM action
    names are case-insensitive, so the request is checked under the API's own name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        service, _, action = self._action.partition(":")
        self._action = f"{service}:{_BATCH_OPERATIONS.get(action.lower(), action)}"


def _authorize_batch(self: BatchResponse, resource: str = "*") -> None:
    self._authenticate_and_authorize_action(_BatchIAMRequest, resource)


def _batch_resource(self: BatchResponse) -> str:
    """The resource of a Batch request, for moto's IAM check (moto itself checks '*').

    moto checks one resource per request: SubmitJob is checked against its queue (AWS
    also checks the job definition), definitions against their name, a job against its id.
    """
    body = json.loads(self.body or "{}") if isinstance(self.body, str | bytes) else {}
    prefix = f"arn:aws:batch:{REGION}:{self.current_account}"
    path = self.path.rstrip("/").rsplit("/", 1)[-1].lower()
    if path == "submitjob":
        queue = str(body.get("jobQueue", ""))
        return queue if queue.startswith("arn:") else f"{prefix}:job-queue/{queue}"
    if path == "registerjobdefinition":
        return f"{prefix}:job-definition/{body.get('jobDefinitionName', '')}"
    if path == "deregisterjobdefinition":
        return str(body.get("jobDefinition", "*"))
    if path in ("terminatejob", "canceljob"):
        return f"{prefix}:job/{body.get('jobId', '')}"
    return "*"


def test_workflow_runs_with_the_kit_s_roles_under_iam_enforcement(
    deployment: account.Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine as the engine role, the jobs as the job role, moto enforcing IAM."""
    iam = client("iam", deployment.endpoint)
    engine_role = iam.get_role(RoleName=deployment.output("IamEngineRole"))["Role"]["Arn"]
    job_role = deployment.output("IamJobRoleArn")
    used = _condition_keys(iam, [deployment.output("IamEngineRole"), job_role.rsplit("/", 1)[1]])
    assert used <= MOTO_CANNOT_EVALUATE
    engine, job = _assume(deployment, engine_role), _assume(deployment, job_role)
    monkeypatch.setattr(BatchResponse, "_determine_resource", _batch_resource, raising=False)
    monkeypatch.setattr(
        BatchResponse, "_authenticate_and_authorize_normal_action", _authorize_batch
    )
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    # Enforcement is on: the operator's own key is unknown to IAM from here on.
    with pytest.raises(Exception, match="InvalidAccessKeyId|InvalidClientTokenId"):
        client("s3", deployment.endpoint).list_buckets()
    # ... and the roles are held to their policies: nothing beyond them.
    with pytest.raises(Exception, match="AccessDenied"):
        _client("s3", deployment.endpoint, engine).get_object(
            Bucket=account.DIST_BUCKET, Key=deployment.manifest["stacks"][0]["template_key"]
        )
    with pytest.raises(Exception, match="AccessDenied"):
        _client("batch", deployment.endpoint, job).describe_jobs(jobs=["x"])
    _, outputs = _run_workflow(deployment, tmp_path, monkeypatch, engine, job)
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    _check_output(deployment, outputs)


def _condition_keys(iam: Any, role_names: list[str]) -> set[str]:
    keys: set[str] = set()
    for name in role_names:
        for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
            text = document if isinstance(document, str) else json.dumps(document)
            for statement in json.loads(text)["Statement"]:
                for condition in statement.get("Condition", {}).values():
                    keys.update(condition)
    return {re.sub(r"^(aws:ResourceTag/).*$", r"\1ironside:workflow-id", k) for k in keys}
