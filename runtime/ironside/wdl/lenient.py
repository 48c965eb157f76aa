"""WDL that Cromwell accepts and miniwdl does not, as a thin layer over miniwdl.

- ``Object`` (draft-2 and 1.0; deprecated in 1.1): the type, as Cromwell's ``read_object``
  gives it, a map of String to String whose fields are read with ``.field``; ``object {}``
  literals coerce to it; ``write_object``/``write_objects`` join miniwdl's
  ``read_object``/``read_objects``.
- Cromwell's lenient access, in draft-2 and 1.0 documents only: a struct indexed with a
  literal ``["field"]``, and ``.member`` on a ``Map[String, X]``. Each use is marked on its
  expression; ``warnings(doc)`` names them (the engine puts them in the metadata).

miniwdl offers no hook for types or member access, so each is a wrapper around one of its
methods (the transformer's ``type`` rule, ``Expr.Get``, ``StdLib._At``, ``StdLib.Base``);
nothing of miniwdl is copied.
"""

from __future__ import annotations

import os
from typing import IO, Any

import lark
from WDL import Error, Expr, StdLib, Tree, Type, Value, _grammar, _parser

#: versions whose documents may use Cromwell's lenient access
LENIENT_VERSIONS = ("draft-2", "1.0")
_MARK = "_ironside_lenient"
_STRING_MAP = (Type.String(), Type.String())


class ObjectType(Type.Map):
    """``Object``: Cromwell's untyped record, a String -> String map with ``.field`` access."""

    def __init__(self, optional: bool = False) -> None:
        super().__init__(_STRING_MAP, optional)

    def __str__(self) -> str:
        return "Object" + ("?" if self.optional else "")


_DRAFT2_TYPES = '| "Array" | "Map" | "Pair"\n'


def _object_type() -> None:
    # draft-2's grammar lists its type names; Object joins them (the rule below builds it)
    draft2 = _grammar.versions["draft-2"]
    if _DRAFT2_TYPES in draft2:  # (not once replaced: the line then goes on)
        _grammar.versions["draft-2"] = draft2.replace(
            _DRAFT2_TYPES, _DRAFT2_TYPES.rstrip("\n") + ' | "Object"\n', 1
        )
    transformer: Any = _parser._DocTransformer
    original = transformer.__dict__["type"]
    if getattr(original, "_ironside", False):
        return
    build = original.base_func

    def type_rule(self: Any, meta: Any, items: list[Any]) -> Any:
        ty = build(self, meta, items)
        if isinstance(ty, Type.StructInstance) and ty.type_name == "Object":
            obj = ObjectType(ty.optional)
            obj.pos = getattr(ty, "pos", None)
            return obj
        return ty

    wrapped: Any = lark.v_args(meta=True)(type_rule)
    wrapped._ironside = True
    transformer.type = wrapped


def _lenient(version: str | None) -> bool:
    return (version or "draft-2") in LENIENT_VERSIONS


def _map_members() -> None:
    get: Any = Expr.Get
    if getattr(get._infer_type, "_ironside", False):
        return
    infer, evaluate = get._infer_type, get._eval

    def _infer_type(self: Any, type_env: Any) -> Type.Base:
        try:
            return infer(self, type_env)  # type: ignore[no-any-return]
        except Error.NoSuchMember:
            ety = getattr(self.expr, "_type", None)
            if not isinstance(ety, Type.Map) or not isinstance(ety.item_type[0], Type.String):
                raise
            if not isinstance(ety, ObjectType):
                if not _lenient(getattr(self._stdlib, "wdl_version", None)):
                    raise
                setattr(self, _MARK, f"{_where(self)}: .{self.member} on a Map (Cromwell's)")
            self._ironside_key = self.member
            return ety.item_type[1]

    def _eval(self: Any, env: Any, stdlib: Any) -> Value.Base:
        key = getattr(self, "_ironside_key", None)
        if key is None:
            return evaluate(self, env, stdlib)  # type: ignore[no-any-return]
        found = self.expr.eval(env, stdlib)
        for k, v in found.value if isinstance(found, Value.Map) else []:
            if k.value == key:
                return v  # type: ignore[no-any-return]
        raise Error.EvalError(self, f"no key {key!r} in the map")

    _infer_type._ironside = True  # type: ignore[attr-defined]
    get._infer_type, get._eval = _infer_type, _eval


def _struct_index() -> None:
    at: Any = StdLib._At
    if getattr(at.infer_type, "_ironside", False):
        return
    infer = at.infer_type

    def infer_type(self: Any, expr: Any) -> Type.Base:
        lhs, rhs = expr.arguments
        member = getattr(rhs.literal, "value", None) if rhs.literal is not None else None
        members = lhs.type.members if isinstance(lhs.type, Type.StructInstance) else None
        if members and member in members and _lenient(self.stdlib.wdl_version):
            setattr(expr, _MARK, f'{_where(expr)}: ["{member}"] on a struct (Cromwell\'s)')
            return members[member]
        return infer(self, expr)  # type: ignore[no-any-return]

    infer_type._ironside = True  # type: ignore[attr-defined]
    at.infer_type = infer_type


def _write_objects() -> None:
    base: Any = StdLib.Base
    if getattr(base.__init__, "_ironside", False):
        return
    init = base.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        one, many = ObjectType(), Type.Array(ObjectType())
        self.write_object = StdLib.StaticFunction(
            "write_object", [one], Type.File(), self._write(lambda v, f: _tsv([v], f))
        )
        self.write_objects = StdLib.StaticFunction(
            "write_objects", [many], Type.File(), self._write(lambda v, f: _tsv(v.value, f))
        )

    __init__._ironside = True  # type: ignore[attr-defined]
    base.__init__ = __init__


def _tsv(objects: list[Value.Base], out: IO[bytes]) -> None:
    """Cromwell's object TSV: a header of the keys, then one line of values per object."""
    rows = [[(k.value, v.coerce(Type.String()).value) for k, v in o.value] for o in objects]
    keys = [k for k, _ in rows[0]] if rows else []
    for row in rows:
        if [k for k, _ in row] != keys:
            raise ValueError("write_objects(): every object must have the same keys, in order")
    lines = ["\t".join(keys)] + ["\t".join(v for _, v in row) for row in rows]
    if any("\n" in cell or "\t" in cell for line in rows for _, cell in line):
        raise ValueError("write_object(): values must not contain tab or newline characters")
    out.write(("\n".join(lines) + "\n").encode("utf-8"))


def _where(node: Any) -> str:
    pos = node.pos
    return f"{os.path.basename(pos.uri)}:{pos.line}:{pos.column}"


def warnings(doc: Tree.Document) -> list[str]:
    """Each non-standard (Cromwell-lenient) access in ``doc`` and its imports."""
    found: list[str] = []
    seen: set[int] = set()

    def walk(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        mark = getattr(node, _MARK, None)
        if mark:
            found.append(f"non-standard WDL accepted as Cromwell does: {mark}")
        for child in node.children:
            walk(child)

    walk(doc)
    for imp in doc.imports:
        if imp.doc is not None:
            found.extend(w for w in warnings(imp.doc) if w not in found)
    return found


def install() -> None:
    """Apply every wrapper (idempotent)."""
    _object_type()
    _map_members()
    _struct_index()
    _write_objects()
