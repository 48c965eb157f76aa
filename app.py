#!/usr/bin/env python3
"""The Ironside kit: one CDK app, every stack of the platform."""

import aws_cdk as cdk

from stacks.app import build_app

app = cdk.App()
build_app(app)
app.synth()
