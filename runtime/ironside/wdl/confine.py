"""Which files the engine itself may read or hand on for a workflow (the path policy).

Engine-side file functions (``read_*``, ``size``, ``glob``, ...) and task
outputs run with the engine's privileges, so a submitted workflow must not
name an arbitrary host path. A ``PathPolicy`` allows paths under its roots
(local directories, compared after resolving symbolic links and ``..``, or URL
prefixes such as ``s3://``) and any of its explicitly allowed files; anything
else is a ``PathRefused`` that names the path, never its content.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field

from ironside.errors import PathRefused

CONFIG_KEY = "ironside.server.allowed-input-roots"


def _is_url(path: str) -> bool:
    return "://" in path


def _real(path: str) -> str:
    return os.path.realpath(path[len("file://") :] if path.startswith("file://") else path)


@functools.lru_cache(maxsize=4096)
def _real_engine_dir(path: str) -> str:
    return os.path.realpath(path)


def real_call_dir(call_dir: str) -> str:
    """``realpath`` of a call's directory, with its parent's resolution cached.

    The parent (the workflow's or the scatter's directory) is made by the engine and
    lies outside what a containerized task can change (only the call's directory is
    mounted), so it is resolved once per process; the call's directory itself, which
    a task could replace, is checked every time.
    """
    call_dir = os.path.abspath(call_dir)
    if os.path.islink(call_dir):
        return os.path.realpath(call_dir)
    parent, name = os.path.split(call_dir)
    return os.path.join(_real_engine_dir(parent), name)


def real_below(named: str, real: str, path: str) -> str | None:
    """``realpath(path)`` for a ``path`` named under the directory ``named`` whose resolution
    is ``real``, found by ``lstat`` of the components below it only (an output of a call is
    two components below its directory, a full ``realpath`` a dozen).

    None when ``path`` is not named under ``named`` in normal form, or one of those
    components is a symbolic link: resolve it in full then. A component that cannot be
    looked at (absent) is taken as it is named, as ``realpath`` does.
    """
    prefix = named.rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    resolved = real.rstrip("/")
    for part in path[len(prefix) :].split("/"):
        if part in ("", ".", ".."):
            return None
        resolved = f"{resolved}/{part}"
        try:
            if stat.S_ISLNK(os.lstat(resolved).st_mode):
                return None
        except OSError:
            pass
    return resolved


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
    #: local roots as named (absolute) with their resolution: paths named under one are
    #: resolved by looking at the components below it only (``real_below``)
    named: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def of(roots: Iterable[str], files: Iterable[str] = ()) -> PathPolicy:
        """A policy with local roots resolved now (``s3://...`` roots kept as given)."""
        resolved = tuple(r if _is_url(r) else _real(r) for r in roots if r)
        return PathPolicy(resolved, _files(files))

    def with_files(self, files: Iterable[str]) -> PathPolicy:
        """This policy plus ``files`` (e.g. a call's inputs)."""
        return PathPolicy(self.roots, self.files | _files(files), self.named)

    def with_resolved_roots(self, roots: Iterable[str]) -> PathPolicy:
        """This policy plus ``roots``, already resolved by the caller."""
        return PathPolicy(tuple(roots) + self.roots, self.files, self.named)

    def with_named_root(self, named: str, real: str) -> PathPolicy:
        """This policy plus the root ``named`` (an absolute path), whose resolution the caller
        found to be ``real``."""
        return PathPolicy((real,) + self.roots, self.files, ((named, real),) + self.named)

    def with_roots(self, roots: Iterable[str]) -> PathPolicy:
        """This policy plus ``roots``."""
        return PathPolicy(PathPolicy.of(roots).roots + self.roots, self.files, self.named)

    def allows(self, path: str) -> bool:
        """Whether ``path`` is one of the files or under one of the roots."""
        if path in self.files:
            return True
        if _is_url(path) and not path.startswith("file://"):
            return any(_is_url(r) and path.startswith(r) for r in self.roots)
        real = self._resolve(path)
        if real in self.files:
            return True
        return any(not _is_url(r) and _under(real, r) for r in self.roots)

    def _resolve(self, path: str) -> str:
        for named, real in self.named:
            resolved = real_below(named, real, path)
            if resolved is not None:
                return resolved
        return _real(path)

    def check(self, path: str, what: str) -> str:
        """``path`` when allowed, else ``PathRefused`` naming it."""
        if not self.allows(path):
            raise PathRefused(
                f"{what}: {path} is outside the files this workflow may read"
                f" (its inputs, its calls' outputs, {CONFIG_KEY})"
            )
        return path
