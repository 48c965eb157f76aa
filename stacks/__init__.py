"""CDK constructs and stacks of the Ironside kit, one module per concern."""
