"""Run-time state of workflows, blocks and calls (small objects, one per shard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from WDL import Env, Tree, Value

from ironside.engine.options import Options
from ironside.engine.plan import BlockPlan, TaskPlan
from ironside.store.status import WorkflowStatus
from ironside.wdl.runtime_overrides import RuntimeOverrides
from ironside.wdl.stdlib import WorkflowStdLib
from ironside.wdl.target import InputNames

SUCCEEDED, FAILED, ABORTED, RUNNING = (
    WorkflowStatus.SUCCEEDED,
    WorkflowStatus.FAILED,
    WorkflowStatus.ABORTED,
    WorkflowStatus.RUNNING,
)


class WorkflowRun:
    """One workflow or sub-workflow being run."""

    def __init__(
        self,
        wf_id: str,
        workflow: Tree.Workflow,
        inputs: Env.Bindings[Value.Base],
        options: Options,
        root: str,
        stdlib: WorkflowStdLib,
        parent: CallRun | None = None,
        resume: dict[tuple[str, int], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.id = wf_id
        self.workflow = workflow
        self.name = workflow.name
        self.inputs = inputs
        self.options = options
        self.root = root  # <backend root>/<name>/<id>
        self.stdlib = stdlib
        self.parent = parent
        self.resume = resume  # stored call attempts by (key fqn, shard), when resuming
        self.status: WorkflowStatus = RUNNING
        self.top_level: WorkflowRun = parent.wf.top_level if parent is not None else self
        self.abort_requested = False  # set on the top-level run; see aborting()
        self.ended = False  # finished and recorded (finalization included)
        self.active = 0  # queued + running calls and sub-workflows
        self.failures: list[dict[str, Any]] = []
        self.no_new_calls = False
        #: runtime attributes set in the inputs, by call path (the top-level run's serve all)
        self.runtime_overrides = RuntimeOverrides()
        #: how the stored inputs and metadata name the inputs (a task run: as its inputs JSON)
        self.input_names = InputNames(workflow.name)
        self.top: BlockRun | None = None
        self.top_done = False
        self.outputs: Env.Bindings[Value.Base] | None = None
        #: outputs as JSON, pointing at their copies under final_workflow_outputs_dir
        self.final_outputs: dict[str, Any] | None = None
        self.input_env: Env.Bindings[Value.Base] = Env.Bindings()
        self.call_overrides: dict[str, dict[str, Value.Base]] = {}
        self.children_index: dict[tuple[str, int], str] = {}  # resuming: sub-workflow ids

    def fail(self, message: str, caused_by: list[dict[str, Any]] | None = None) -> None:
        """Record a failure; unless ContinueWhilePossible, start no new calls."""
        self.failures.append({"message": message, "causedBy": caused_by or []})
        if not self.options.continue_while_possible:
            self.no_new_calls = True

    def aborting(self) -> bool:
        """Whether an abort of the top-level workflow was asked for."""
        return self.top_level.abort_requested

    def stopping(self) -> bool:
        """Whether this workflow (or an enclosing one) starts no new calls."""
        run: WorkflowRun | None = self
        while run is not None:
            if run.no_new_calls or run.status != RUNNING:
                return True
            run = run.parent.wf if run.parent else None
        return False


class BlockRun:
    """One instance of a block: the workflow body, a scatter shard, a taken conditional."""

    __slots__ = ("plan", "env", "counts", "pending", "wf", "path", "on_done", "failed")

    def __init__(
        self,
        plan: BlockPlan,
        env: Env.Bindings[Value.Base],
        wf: WorkflowRun,
        path: tuple[int, ...],
        on_done: Callable[[BlockRun], None],
    ) -> None:
        self.plan = plan
        self.env = env
        self.counts = dict(plan.counts)
        self.pending = len(plan.nodes)
        self.wf = wf
        self.path = path  # scatter indices from the outermost scatter in
        self.on_done = on_done
        self.failed = False


class CallRun:
    """One call of one shard (task or sub-workflow), across its attempts."""

    __slots__ = (
        "wf",
        "block",
        "call",
        "plan",
        "fqn",
        "key",
        "shard",
        "attempt",
        "provided",
        "env",
        "runtime",
        "command",
        "call_root",
        "job_id",
        "started",
        "inputs_json",
        "fingerprint",
        "child",
        "recover",
        "memory_factor",
        "request",
        "intent_recorded",
        "system_retries",
    )

    def __init__(
        self,
        wf: WorkflowRun,
        block: BlockRun,
        call: Tree.Call,
        plan: TaskPlan | None,
        provided: dict[str, Value.Base],
    ) -> None:
        self.wf = wf
        self.block = block
        self.call = call
        self.plan = plan
        self.fqn = f"{wf.name}.{call.name}"
        path = block.path
        self.shard = path[-1] if path else -1
        self.key = self.fqn + "".join(f"[{i}]" for i in path[:-1])
        self.attempt = 1
        self.provided = provided
        self.env: Env.Bindings[Value.Base] | None = None
        self.runtime: dict[str, Any] = {}
        self.command = ""
        self.call_root = ""
        self.job_id: str | None = None
        self.started = 0.0
        self.inputs_json: str | None = None
        self.fingerprint: Any = None
        self.child: WorkflowRun | None = None
        self.recover = False  # resuming: ask the backend about this attempt before submitting
        self.memory_factor = 1.0  # grown by memory_retry_multiplier after an out-of-memory kill
        self.request: Any = None  # the prepared JobRequest, kept while submission waits
        self.intent_recorded = False  # this attempt's Starting row is queued or stored
        self.system_retries = 0  # new attempts after lost ones (system.max-retries)

    @property
    def store_key(self) -> tuple[str, str, int, int]:
        """The natural key of this attempt's row."""
        return (self.wf.id, self.key, self.shard, self.attempt)
