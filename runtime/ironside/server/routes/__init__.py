"""Routers of the REST server, one module per resource."""
