"""Observability stack: log groups, the dashboard, the alarms and their SNS topic.

It comes first in the dependency order: everything it watches is addressed by the
deterministic names in :class:`~stacks.settings.Settings` (queue names, the engine's
Auto Scaling group, the database cluster), so no other stack has to exist before it
and the log groups can be handed to the Batch and engine stacks.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from stacks import checkov, nag
from stacks.constructs.logging import log_group
from stacks.settings import Settings


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """A rule target writing matched events to a log group (policy managed by the stack)."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        """The target config: the log group's ARN (without ``:*``)."""
        return events.RuleTargetConfig(arn=self.arn)


#: Log group of Batch job state changes (template on the name prefix).
JOB_EVENTS = "/{prefix}/batch/job-events"
#: Why the alarm topic is not encrypted (cdk-nag SNS2, checkov CKV_AWS_26).
TOPIC_REASON = (
    "Alarm notifications carry only alarm names and states; CloudWatch alarms cannot "
    "publish to a topic encrypted with the AWS managed key alias/aws/sns"
)
#: Batch job statuses charted per queue.
JOB_STATUSES = ("RUNNABLE", "RUNNING", "FAILED")


class ObservabilityStack(cdk.Stack):
    """Log groups ``jobs_log_group``, ``hosts_log_group``, ``engine_log_group`` and the rest."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kw: Any):
        super().__init__(scope, construct_id, **kw)
        names = settings.log_group_names
        groups = {
            role: log_group(self, f"{role.capitalize()}Logs", settings, name)
            for role, name in names.items()
        }
        self.jobs_log_group = groups["jobs"]
        self.hosts_log_group = groups["hosts"]
        self.engine_log_group = groups["engine"]

        self.job_events_log_group = log_group(
            self, "JobEventsLogs", settings, JOB_EVENTS.format(prefix=settings.name_prefix)
        )
        transitions = self._job_transition_rules(
            settings, JOB_EVENTS.format(prefix=settings.name_prefix)
        )
        for rule in transitions.values():
            rule.node.add_dependency(self.job_events_log_group)
        period = cdk.Duration.minutes(5)

        def jobs_metric(queue: str, status: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/Events",
                metric_name="TriggeredRules",
                dimensions_map={"RuleName": transitions[(queue, status)].rule_name},
                statistic="Sum",
                period=period,
                label=f"{queue} {status}",
            )

        queues = (settings.default_queue_name, settings.priority_queue_name)
        asg = {"AutoScalingGroupName": settings.engine_asg_name}
        engine_cpu = cw.Metric(
            namespace="AWS/EC2", metric_name="CPUUtilization", dimensions_map=asg, period=period
        )
        engine_memory = cw.Metric(
            namespace="CWAgent", metric_name="mem_used_percent", dimensions_map=asg, period=period
        )
        in_service = cw.Metric(
            namespace="AWS/AutoScaling",
            metric_name="GroupInServiceInstances",
            dimensions_map=asg,
            statistic="Minimum",
            period=cdk.Duration.minutes(1),
        )
        db_connections = cw.Metric(
            namespace="AWS/RDS",
            metric_name="DatabaseConnections",
            dimensions_map={"DBClusterIdentifier": settings.database_cluster_id},
            period=period,
        )

        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=settings.name("platform"), default_interval=None
        )
        self.dashboard.add_widgets(
            *[
                cw.GraphWidget(
                    title=f"Jobs entering RUNNABLE / RUNNING / FAILED: {queue}",
                    left=[jobs_metric(queue, status) for status in JOB_STATUSES],
                    width=12,
                )
                for queue in queues
            ],
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Engine CPU %", left=[engine_cpu], width=8),
            cw.GraphWidget(title="Engine memory %", left=[engine_memory], width=8),
            cw.GraphWidget(title="Database connections", left=[db_connections], width=8),
        )

        failed = cw.MathExpression(
            expression=" + ".join(f"f{i}" for i in range(len(queues))),
            using_metrics={f"f{i}": jobs_metric(queue, "FAILED") for i, queue in enumerate(queues)},
            period=period,
            label="failed jobs",
        )
        self.failed_jobs_alarm = cw.Alarm(
            self,
            "FailedJobsAlarm",
            alarm_name=settings.name("failed-jobs"),
            alarm_description="Batch jobs of the platform's queues failed",
            metric=failed,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self.engine_unhealthy_alarm = cw.Alarm(
            self,
            "EngineUnhealthyAlarm",
            alarm_name=settings.name("engine-unhealthy"),
            alarm_description="No healthy engine instance in service for 5 minutes",
            metric=in_service,
            threshold=1,
            evaluation_periods=5,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )

        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=settings.name("alarms"),
            display_name="Ironside platform alarms",
            enforce_ssl=True,
        )
        nag.acknowledge(
            self.alarm_topic,
            TOPIC_REASON,
            "AwsSolutions-SNS2",
        )
        checkov.skip(
            self.alarm_topic,
            TOPIC_REASON,
            "CKV_AWS_26",
        )
        if settings.alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        action = cw_actions.SnsAction(self.alarm_topic)
        for alarm in (self.failed_jobs_alarm, self.engine_unhealthy_alarm):
            alarm.add_alarm_action(action)
        self.engine_unhealthy_alarm.add_ok_action(action)
        cdk.CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.alarm_topic.topic_arn,
            description="SNS topic of the platform's alarms (subscribe to be notified)",
        )

    def _job_transition_rules(
        self, settings: Settings, history_name: str
    ) -> dict[tuple[str, str], events.Rule]:
        """One EventBridge rule per (queue, status); its TriggeredRules metric counts jobs.

        AWS Batch publishes no job-count metrics; every state change is an event, and
        EventBridge counts the matches of each rule, which charts the flow of jobs into
        each state per queue without a Lambda or any polling. The matched events also go
        to the log group ``history_name`` (a job state log), through a CloudFormation-native
        resource policy.
        """
        history_arn = self.format_arn(
            service="logs",
            resource="log-group",
            resource_name=history_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        logs.ResourcePolicy(
            self,
            "JobEventsDelivery",
            policy_statements=[
                iam.PolicyStatement(
                    sid="EventBridgeToJobEvents",
                    principals=[
                        iam.ServicePrincipal("events.amazonaws.com"),
                        iam.ServicePrincipal("delivery.logs.amazonaws.com"),
                    ],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{history_arn}:*"],
                )
            ],
        )
        target = _LogGroupTarget(history_arn)
        rules: dict[tuple[str, str], events.Rule] = {}
        for queue in (settings.default_queue_name, settings.priority_queue_name):
            queue_arn = cdk.Stack.of(self).format_arn(
                service="batch", resource="job-queue", resource_name=queue
            )
            for status in JOB_STATUSES:
                rules[(queue, status)] = events.Rule(
                    self,
                    f"{queue.rsplit('-', 1)[-1].capitalize()}{status.capitalize()}Jobs",
                    rule_name=f"{queue}-{status.lower()}",
                    description=f"Counts Batch jobs of {queue} entering {status}",
                    event_pattern=events.EventPattern(
                        source=["aws.batch"],
                        detail_type=["Batch Job State Change"],
                        detail={"status": [status], "jobQueue": [queue_arn]},
                    ),
                    targets=[target],
                )
        return rules
