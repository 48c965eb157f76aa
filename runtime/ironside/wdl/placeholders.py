"""WDL 1.2's placeholder rule, as a thin wrapper over miniwdl's ``Expr.Placeholder``.

1.2: when a ``None`` within a placeholder's expression makes it fail (``~{select_first([x])}``
with ``x`` None), the placeholder is the empty string. Only an evaluation error of an
expression that met a ``None`` (an identifier bound to None, or the ``None`` literal) is
forgiven: ``~{1 / 0}`` still fails. Earlier versions keep miniwdl's behaviour (an error).
"""

from __future__ import annotations

from typing import Any

from WDL import Env, Error, Expr, StdLib, Value

from ironside.wdl.versions import at_least


def _meets_none(expr: Expr.Base, env: Env.Bindings[Value.Base], stdlib: StdLib.Base) -> bool:
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Expr.Null):
            return True
        if isinstance(node, Expr.Ident):
            try:
                if isinstance(node.eval(env, stdlib), Value.Null):
                    return True
            except Error.EvalError:
                pass
        stack.extend(node.children)  # type: ignore[arg-type]
    return False


def install() -> None:
    """Wrap ``Placeholder._eval_impl`` (idempotent)."""
    placeholder: Any = Expr.Placeholder
    original = placeholder.__dict__["_eval_impl"]
    if getattr(original, "_ironside", False):
        return

    def _eval_impl(self: Any, env: Env.Bindings[Value.Base], stdlib: StdLib.Base) -> Value.String:
        try:
            return original(self, env, stdlib)  # type: ignore[no-any-return]
        except Error.EvalError:
            if not at_least(stdlib.wdl_version, "1.2") or not _meets_none(self.expr, env, stdlib):
                raise
            return Value.String("")

    _eval_impl._ironside = True  # type: ignore[attr-defined]
    placeholder._eval_impl = _eval_impl
