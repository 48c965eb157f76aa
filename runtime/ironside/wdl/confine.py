"""Which files the engine itself may read or hand on for a workflow (the path policy).

Engine-side file functions (``read_*``, ``size``, ``glob``, ...) and task
outputs run with the engine's privileges, so a submitted workflow must not
name an arbitrary host path. A ``PathPolicy`` allows paths under its roots
(local directories, compared after resolving symbolic links and ``..``, or URL
prefixes such as ``s3://``) and any of its explicitly allowed files; anything
else is a ``PathRefused`` that names the path, never its content.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from ironside.errors import PathRefused

CONFIG_KEY = "ironside.server.allowed-input-roots"


def _is_url(path: str) -> bool:
    return "://" in path


def _real(path: str) -> str:
    return os.path.realpath(path[len("file://") :] if path.startswith("file://") else path)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _files(paths: Iterable[str]) -> frozenset[str]:
    """Each path as given and, for local ones, resolved."""
    out = set()
    for p in paths:
        out.add(p)
        if not _is_url(p) or p.startswith("file://"):
            out.add(_real(p))
    return frozenset(out)


@dataclass(frozen=True)
class PathPolicy:
    """Roots (local directories or URL prefixes) and single files a workflow may read."""

    roots: tuple[str, ...] = ()
    files: frozenset[str] = field(default_factory=frozenset)

    @staticmethod
    def of(roots: Iterable[str], files: Iterable[str] = ()) -> PathPolicy:
        """A policy with local roots resolved now (``s3://...`` roots kept as given)."""
        resolved = tuple(r if _is_url(r) else _real(r) for r in roots if r)
        return PathPolicy(resolved, _files(files))

    def with_files(self, files: Iterable[str]) -> PathPolicy:
        """This policy plus ``files`` (e.g. a call's inputs)."""
        return PathPolicy(self.roots, self.files | _files(files))

    def with_roots(self, roots: Iterable[str]) -> PathPolicy:
        """This policy plus ``roots``."""
        return PathPolicy(PathPolicy.of(roots).roots + self.roots, self.files)

    def allows(self, path: str) -> bool:
        """Whether ``path`` is one of the files or under one of the roots."""
        if path in self.files:
            return True
        if _is_url(path) and not path.startswith("file://"):
            return any(_is_url(r) and path.startswith(r) for r in self.roots)
        real = _real(path)
        if real in self.files:
            return True
        return any(not _is_url(r) and _under(real, r) for r in self.roots)

    def check(self, path: str, what: str) -> str:
        """``path`` when allowed, else ``PathRefused`` naming it."""
        if not self.allows(path):
            raise PathRefused(
                f"{what}: {path} is outside the files this workflow may read"
                f" (its inputs, its calls' outputs, {CONFIG_KEY})"
            )
        return path
