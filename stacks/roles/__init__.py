"""IAM roles of the platform, one module per role and its policy."""
