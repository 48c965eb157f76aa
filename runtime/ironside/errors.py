"""The one hierarchy of errors a user can act on.

Each carries a message that says what is wrong and where. The server maps them to
HTTP statuses (``http_status``), the CLI to a one-line error and exit code 2.
"""


class UserError(Exception):
    """Bad input from a user: rejected before anything is stored or submitted."""

    http_status = 400


class BadWorkflow(UserError):
    """The WDL does not parse or does not typecheck."""


class BadInputs(UserError):
    """The inputs JSON is malformed, misses a required input, or has a wrong type."""


class BadOptions(UserError):
    """A workflow option has the wrong type or value."""


class BadConfig(UserError):
    """The HOCON config is unreadable or a value has the wrong type."""


class BadRuntimeAttribute(UserError):
    """A task's runtime attribute has a value the backend cannot accept."""


class UnknownWorkflow(UserError):
    """No workflow with that id."""

    http_status = 404


class WorkflowStateConflict(UserError):
    """The workflow is in a state that does not allow the request (e.g. abort when finished)."""

    http_status = 403


class LimitExceeded(UserError):
    """A submission is over one of the configured bounds (``ironside.limits``)."""


class PathRefused(UserError, ValueError):
    """A workflow reached for a file outside what it may read (imports, read_*, outputs)."""
