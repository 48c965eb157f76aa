"""The workflow graph state machine: which nodes are ready, what a finished node unlocks.

Pure: it evaluates declarations, scatter and conditional expressions with the
workflow's stdlib, but never touches the store or a backend. A call node is
handed to ``start_call``; the engine reports it back through ``node_done`` (or
``call_finished``). Scatter shards are expanded lazily and round-robin across
every scatter of every workflow (``expand``), so a 10,000-shard scatter does not
hold 10,000 blocks, and a workflow submitted after it still gets its turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import WDL
from WDL import Env, Tree, Value

from ironside import failpoints
from ironside.engine import calls as C
from ironside.engine.plan import BlockPlan, block_plan, order_decls
from ironside.engine.runs import BlockRun, CallRun, WorkflowRun


class WorkflowGraph:
    """Ready nodes, scatters being expanded, and workflows that may have finished."""

    def __init__(self, start_call: Callable[[BlockRun, Tree.Call], None]) -> None:
        self.start_call = start_call
        self.ready: deque[tuple[BlockRun, str]] = deque()
        self.expansions: deque[Expansion] = deque()
        self.maybe_done: set[WorkflowRun] = set()

    # ---- workflows ------------------------------------------------------------------------
    def start(self, run: WorkflowRun, on_done: Callable[[BlockRun], None]) -> None:
        """Bind the workflow's inputs and start its body (a bad input fails the workflow)."""
        try:
            run.input_env = self._bind_inputs(run)
        except C.CallFailure as exc:
            run.fail(str(exc))
            self.maybe_done.add(run)
            return
        wf = run.workflow
        run.top = BlockRun(block_plan(wf, wf.body), run.input_env, run, (), on_done)
        self.start_block(run.top)

    def _bind_inputs(self, run: WorkflowRun) -> Env.Bindings[Value.Base]:
        env: Env.Bindings[Value.Base] = Env.Bindings()
        given = {b.name: b.value for b in run.inputs}
        for b in run.inputs:
            if "." in b.name:  # draft-2 style inputs of calls: "<call>.<input>"
                call, name = b.name.split(".", 1)
                run.call_overrides.setdefault(call, {})[name] = b.value
        for decl in order_decls(list(run.workflow.inputs or [])):
            env = env.bind(decl.name, decl_value(run, decl, env, given))
        return env

    def outputs(self, run: WorkflowRun) -> Env.Bindings[Value.Base]:
        """The workflow's output values (``CallFailure`` when one cannot be evaluated)."""
        assert run.top is not None
        env = run.top.env
        wf = run.workflow
        outs: Env.Bindings[Value.Base] = Env.Bindings()
        if wf.outputs is None:
            for b in wf.effective_outputs:
                outs = outs.bind(b.name, env[b.name])
            return outs
        for decl in wf.outputs:
            assert decl.expr is not None
            try:
                value = decl.expr.eval(env, run.stdlib).coerce(decl.type)
            except C.EVAL_ERRORS as exc:
                raise C.CallFailure(f"{C.where(decl)}: output {decl.name}: {exc}") from None
            env = env.bind(decl.name, value)
            outs = outs.bind(decl.name, value)
        return outs

    # ---- blocks and nodes ---------------------------------------------------------------
    def start_block(self, block: BlockRun) -> None:
        """Make the block's dependency-free nodes ready (an empty block is done at once)."""
        if not block.pending:
            block.on_done(block)
            return
        for node_id in block.plan.initial:
            self.ready.append((block, node_id))

    def node_done(self, block: BlockRun, node_id: str) -> None:
        """A node finished: its dependents whose last dependency it was become ready."""
        counts = block.counts
        for dep in block.plan.dependents[node_id]:
            counts[dep] -= 1
            if not counts[dep]:
                self.ready.append((block, dep))
        block.pending -= 1
        if not block.pending:
            block.on_done(block)

    def call_finished(self, cr: CallRun, outputs: Env.Bindings[Value.Base]) -> None:
        """A call succeeded: its outputs join the block's environment under the call's name."""
        block = cr.block
        block.env = Env.merge(outputs.wrap_namespace(cr.call.name), block.env)
        self.node_done(block, cr.call.workflow_node_id)
        self.dec_active(cr.wf)

    def dec_active(self, run: WorkflowRun) -> None:
        """One queued or running call (or expansion) of ``run`` less."""
        run.active -= 1
        if not run.active:
            self.maybe_done.add(run)

    def run_ready(self) -> None:
        """Evaluate every ready node (which may make more ready)."""
        while self.ready:
            block, node_id = self.ready.popleft()
            self._run_node(block, node_id)

    def _run_node(self, block: BlockRun, node_id: str) -> None:
        node = block.plan.nodes[node_id]
        run = block.wf
        if run.stopping() and not isinstance(node, Tree.Decl):
            return
        try:
            if isinstance(node, Tree.Decl):
                given = {} if block is not run.top else {b.name: b.value for b in run.inputs}
                block.env = block.env.bind(node.name, decl_value(run, node, block.env, given))
                self.node_done(block, node_id)
            elif isinstance(node, Tree.Call):
                self.start_call(block, node)
            elif isinstance(node, Tree.Scatter):
                self._start_scatter(block, node)
            elif isinstance(node, Tree.Conditional):
                self._start_conditional(block, node)
        except C.CallFailure as exc:
            block.failed = True
            run.fail(str(exc))
            self.maybe_done.add(run)

    def _eval(self, block: BlockRun, expr: WDL.Expr.Base) -> Value.Base:
        try:
            return expr.eval(block.env, block.wf.stdlib)
        except C.EVAL_ERRORS as exc:
            raise C.CallFailure(f"{C.where(expr)}: {exc}") from None

    # ---- scatters and conditionals ----------------------------------------------------------
    def _start_scatter(self, block: BlockRun, node: Tree.Scatter) -> None:
        array = self._eval(block, node.expr)
        items = array.value if isinstance(array, Value.Array) else []
        plan = block_plan(node, node.body)
        if not items:
            self._gather(Expansion(self, block, node, plan, []))
            return
        # the unexpanded rest keeps the workflow active
        block.wf.active += 1
        self.expansions.append(Expansion(self, block, node, plan, list(items)))

    def expand(self, want: int) -> None:
        """Start up to ``want`` more scatter shards, one scatter after another in turn."""
        while want > 0 and self.expansions:
            exp = self.expansions.popleft()
            run = exp.block.wf
            if run.stopping():
                self.dec_active(run)
                continue
            i = exp.next
            exp.next += 1
            if exp.next == len(exp.items):
                self.dec_active(run)
            else:
                self.expansions.append(exp)
            env = exp.block.env.bind(exp.node.variable, exp.items[i])
            self.start_block(BlockRun(exp.plan, env, run, exp.block.path + (i,), exp.shard_done))
            want -= 1

    def _gather(self, exp: Expansion) -> None:
        block = exp.block
        env = block.env
        for k, (name, ty) in enumerate(exp.plan.produced):
            env = env.bind(name, Value.Array(ty, [r[k] for r in exp.results]))
        block.env = env
        failpoints.hit("gather")
        self.node_done(block, exp.node.workflow_node_id)

    def _start_conditional(self, block: BlockRun, node: Tree.Conditional) -> None:
        cond = self._eval(block, node.expr)
        plan = block_plan(node, node.body)
        if not cond.value:
            env = block.env
            for name, _ty in plan.produced:
                env = env.bind(name, Value.Null())
            block.env = env
            self.node_done(block, node.workflow_node_id)
            return

        def taken_done(inner: BlockRun) -> None:
            env = block.env
            for name, _ty in plan.produced:
                env = env.bind(name, inner.env[name])
            block.env = env
            self.node_done(block, node.workflow_node_id)

        self.start_block(BlockRun(plan, block.env, block.wf, block.path, taken_done))


class Expansion:
    """A scatter being expanded shard by shard, and the values its shards produced."""

    __slots__ = ("graph", "block", "node", "plan", "items", "next", "results", "left")

    def __init__(
        self,
        graph: WorkflowGraph,
        block: BlockRun,
        node: Tree.Scatter,
        plan: BlockPlan,
        items: list[Value.Base],
    ) -> None:
        self.graph = graph
        self.block = block
        self.node = node
        self.plan = plan
        self.items = items
        self.next = 0
        self.results: list[tuple[Value.Base, ...]] = [()] * len(items)
        self.left = len(items)

    def shard_done(self, shard: BlockRun) -> None:
        """Keep only the shard's products (its environment is dropped); gather after the last."""
        env = shard.env
        self.results[shard.path[-1]] = tuple(env[name] for name, _ in self.plan.produced)
        self.left -= 1
        if not self.left:
            self.items = []
            self.graph._gather(self)


def decl_value(
    run: WorkflowRun,
    decl: Tree.Decl,
    env: Env.Bindings[Value.Base],
    given: dict[str, Value.Base],
) -> Value.Base:
    """A workflow declaration's value: the given one, else its expression, else null."""
    value = given.get(decl.name)
    try:
        if value is not None and not (isinstance(value, Value.Null) and decl.expr):
            return value.coerce(decl.type)
        if decl.expr is not None:
            return decl.expr.eval(env, run.stdlib).coerce(decl.type)
    except C.EVAL_ERRORS as exc:
        raise C.CallFailure(f"{C.where(decl)}: {decl.name}: {exc}") from None
    if decl.type.optional:
        return Value.Null()
    raise C.CallFailure(f"{C.where(decl)}: required input {decl.name} not supplied")
