"""``Confinement``: what one submission may reach and what it may cost, in one value.

``ironside run`` (the user's own machine): imports under the WDL's directory,
``--allow-path`` and the imports zip, any URL, any file; the configured limits.
``ironside server``: imports from the dependencies zip only (URLs were checked
against the server's settings when the request came in), ``File`` inputs and
engine-side reads under ``Settings.input_roots()``; the configured limits.
The engine's one submission pipeline loads with it; each top-level run gets
its stdlib confined and a fresh ``Budget``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import WDL
from WDL import Env, Value

from ironside.config import Settings
from ironside.limits import Budget, Limits
from ironside.wdl.confine import PathPolicy
from ironside.wdl.imports import ImportPolicy, any_url
from ironside.wdl.loader import bundle_dir, load_document
from ironside.wdl.stdlib import WorkflowStdLib
from ironside.wdl.values import files_in


@dataclass(frozen=True)
class Confinement:
    """Where imports and files may come from, and the limits (default: ``ironside run``'s)."""

    limits: Limits = field(default_factory=Limits)
    imports: ImportPolicy | None = None  # None: the WDL's directory and ``allow_paths``
    allow_paths: tuple[str, ...] = ()
    paths: PathPolicy | None = None  # None: any file
    #: reads ``s3://`` imports (at most limit + 1 bytes); None: s3 imports refused
    s3_read: Callable[[str, int], bytes] | None = None

    @staticmethod
    def for_server(settings: Settings) -> Confinement:
        """A server's: zip-only imports, files under the allowed input roots."""
        return Confinement(
            limits=settings.limits,
            imports=ImportPolicy(url_allowed=any_url, limits=settings.limits),
            paths=PathPolicy.of(settings.input_roots()),
        )

    def reading_s3(self, reader: Callable[[str, int], bytes]) -> Confinement:
        """This confinement with ``s3://`` imports read by ``reader`` (where the scheme is
        allowed: the server checked its URLs when the request came in)."""
        return replace(self, s3_read=reader)

    def load(self, url: str, imports_zip: bytes | None, source: str) -> WDL.Tree.Document:
        """Parse and typecheck ``source`` (from ``url``) under this confinement."""
        return load_document(
            url, imports_zip, source, self.imports, self.allow_paths, self.limits, self.s3_read
        )

    def inputs(self, inputs: Env.Bindings[Value.Base]) -> Env.Bindings[Value.Base]:
        """``inputs`` unchanged when every File/Directory in them may be read, else
        ``PathRefused`` naming the input and the path."""
        if self.paths is not None:
            for binding in inputs:
                for path in files_in(binding.value):
                    self.paths.check(path, f"workflowInputs: input {binding.name!r}")
        return inputs

    def apply(self, stdlib: WorkflowStdLib, doc: WDL.Tree.Document | None = None) -> None:
        """Confine a top-level run's stdlib and give it a fresh budget. The submitted bundle
        of ``doc`` (where its relative File defaults point) may be read too."""
        paths = self.paths
        bundle = bundle_dir(doc) if doc is not None else None
        if paths is not None and bundle:
            paths = paths.with_roots([bundle])
        stdlib.confine(paths, Budget(self.limits))
