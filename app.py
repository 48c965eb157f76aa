#!/usr/bin/env python3
"""The Ironside kit: one CDK app, AwsSolutions checks on everything.

With ``-c ironside:pipelineSource=...`` (or that key in ``cdk.json``) the app is the
CodePipeline that deploys the kit; otherwise it is the platform's stacks, settings
from context.
"""

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from pipeline.app import add_pipeline, wants_pipeline
from stacks.platform import add_platform
from stacks.settings import Settings

app = cdk.App()
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
if wants_pipeline(app):
    add_pipeline(app)
else:
    add_platform(app, Settings.from_context(app.node))
app.synth()
