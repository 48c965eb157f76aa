"""Ironside: a WDL workflow engine that speaks Cromwell's REST API."""

__version__ = "0.1.0"
