"""Log groups of the kit: retention, removal policy and encryption from the settings."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import checkov
from stacks.settings import Settings

_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The ``RetentionDays`` member for ``days`` (validated by the settings)."""
    return _BY_DAYS[days]


def kit_key(scope: Construct, settings: Settings) -> kms.IKey | None:
    """The operator's KMS key (``kmsKeyArn``) in ``scope``'s stack, or ``None``."""
    if settings.kms_key_arn is None:
        return None
    stack = cdk.Stack.of(scope)
    found = stack.node.try_find_child("KitKey")
    if found is not None:
        return cast(kms.IKey, found)
    return kms.Key.from_key_arn(stack, "KitKey", settings.kms_key_arn)


def log_group(
    scope: Construct, construct_id: str, settings: Settings, name: str | None = None
) -> logs.LogGroup:
    """A log group with ``logRetentionDays``, kept on stack deletion unless
    ``removalPolicy`` is ``destroy`` (log groups have no snapshot), encrypted with
    ``kmsKeyArn`` when set."""
    key = kit_key(scope, settings)
    group = logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=retention(settings.log_retention_days),
        removal_policy=(
            cdk.RemovalPolicy.DESTROY
            if settings.removal_policy == "destroy"
            else cdk.RemovalPolicy.RETAIN
        ),
        encryption_key=key,
    )
    if key is None:
        checkov.skip(group, SERVICE_KEY_REASON, "CKV_AWS_158")
    return group


#: Why a log group or secret without ``kmsKeyArn`` is not on a customer managed key.
SERVICE_KEY_REASON = (
    "Encrypted at rest with the service's AWS managed key by default; kmsKeyArn puts it on "
    "the operator's customer managed key (regulated tenants)"
)
