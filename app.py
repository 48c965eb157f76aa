#!/usr/bin/env python3
"""The Ironside kit: one CDK app, every stack of the platform (settings from context)."""

import aws_cdk as cdk

from stacks.platform import add_platform
from stacks.settings import Settings

app = cdk.App()
add_platform(app, Settings.from_context(app.node))
app.synth()
