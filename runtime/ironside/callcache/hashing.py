"""The call-cache hash of a call, built the way Cromwell builds it.

A call is reduced to a plain :class:`CallFingerprint` by the engine (it knows
the task, the evaluated inputs and which of them are files). This module turns
it into named component hashes (what ``callCaching.hashes`` and the cache diff
show) and the aggregates the store looks entries up by.

Every component is the MD5 hex of a canonical string, so hashes are stable
across runs, processes and Python versions: mapping keys are sorted and
compound values are serialised as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: MD5 of the empty string: the identity of a missing optional file input.
EMPTY_MD5 = hashlib.md5(b"").hexdigest()

#: What an absent runtime attribute hashes as.
NOT_APPLICABLE = "N/A"

#: Runtime attributes that feed the hash (after normalisation).
CACHED_RUNTIME_ATTRIBUTES = ("continueOnReturnCode", "docker", "failOnStderr")


def md5_hex(text: str) -> str:
    """MD5 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    """A deterministic JSON text for ``value`` (sorted keys, no whitespace)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def value_text(value: Any) -> str:
    """The text a non-file value hashes as: strings raw, everything else canonical JSON."""
    if isinstance(value, str):
        return value
    return canonical_json(value)


@dataclass(frozen=True)
class CallFingerprint:
    """Everything about a call that decides whether an earlier result can be reused.

    - ``command_template``: the task's command section *before* evaluation.
    - ``backend_name``: the backend the call would run on (e.g. ``AWSBatch``).
    - ``runtime_attributes``: evaluated attributes; only ``docker``,
      ``continueOnReturnCode`` / ``returnCodes`` and ``failOnStderr`` are used.
      ``docker`` must already be the digest-pinned image (``repo@sha256:...``):
      resolve it with :mod:`ironside.callcache.docker` first.
    - ``inputs``: non-file inputs, keyed ``"<WDL type> <name>"`` (``"Int n"``).
    - ``file_inputs``: file inputs, keyed the same way (``"File f"``,
      ``"Array[File] xs"``), each the content identities of its files in order
      (``None`` for a missing optional file).
    - ``outputs``: output expressions keyed ``"<WDL type> <name>"``, values
      the expression's source text.
    """

    command_template: str
    backend_name: str
    runtime_attributes: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    file_inputs: Mapping[str, Sequence[str | None]] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallHashes:
    """The component hashes of a call and their aggregates.

    ``components`` maps Cromwell's hash keys (``"command template"``,
    ``"runtime attribute: docker"``, ``"input: File f"`` ...) to MD5 hex.
    ``base`` aggregates everything but file inputs, ``files`` the file inputs,
    ``aggregate`` both: the key cache entries are stored and found by.
    """

    components: Mapping[str, str]
    base: str
    files: str
    aggregate: str

    def to_metadata(self) -> dict[str, Any]:
        """The nested shape Cromwell shows under ``callCaching.hashes``."""
        nested: dict[str, Any] = {}
        for key, value in sorted(self.components.items()):
            group, sep, name = key.partition(": ")
            if sep:
                nested.setdefault(group, {})[name] = value
            else:
                nested[key] = value
        return nested


def normalise_runtime_attributes(attributes: Mapping[str, Any]) -> dict[str, str]:
    """The texts of the cached runtime attributes, defaults filled in.

    ``returnCodes`` (WDL 1.1) and ``continueOnReturnCode`` are the same
    attribute; ``returnCodes`` wins when both are given. An absent
    ``continueOnReturnCode`` hashes as ``0`` and an absent ``failOnStderr`` as
    ``false``, so spelling out a default does not change the hash; ``false``
    hashes as itself, as in Cromwell.
    """
    codes = attributes.get("returnCodes", attributes.get("continueOnReturnCode", 0))
    fail_on_stderr = attributes.get("failOnStderr", False)
    if isinstance(fail_on_stderr, str):
        fail_on_stderr = fail_on_stderr.strip().lower() == "true"
    docker = attributes.get("docker")
    return {
        "continueOnReturnCode": value_text(_normalise_return_codes(codes)),
        "docker": NOT_APPLICABLE if docker in (None, "") else value_text(docker),
        "failOnStderr": value_text(bool(fail_on_stderr)),
    }


def _normalise_return_codes(codes: Any) -> Any:
    """``"*"``/``true`` mean any code; lists are order-free; numeric strings become ints."""
    if codes == "*" or codes is True:
        return True
    if isinstance(codes, str) and codes.strip().lstrip("-").isdigit():
        return int(codes)
    if isinstance(codes, list | tuple):
        return sorted({_normalise_return_codes(code) for code in codes})
    return codes


def file_input_hash(content_ids: Sequence[str | None]) -> str:
    """Hash of one file input: a single file's identity, or MD5 of the list of them."""
    ids = [EMPTY_MD5 if content_id is None else content_id for content_id in content_ids]
    if len(ids) == 1:
        return ids[0]
    return md5_hex(canonical_json(ids))


def component_hashes(fingerprint: CallFingerprint) -> dict[str, str]:
    """Every named component hash of a call."""
    fp = fingerprint
    components = {
        "command template": md5_hex(fp.command_template),
        "backend name": md5_hex(fp.backend_name),
        "input count": md5_hex(str(len(fp.inputs) + len(fp.file_inputs))),
        "output count": md5_hex(str(len(fp.outputs))),
    }
    for name, text in normalise_runtime_attributes(fp.runtime_attributes).items():
        components[f"runtime attribute: {name}"] = md5_hex(text)
    for name, value in fp.inputs.items():
        components[f"input: {name}"] = md5_hex(value_text(value))
    for name, expression in fp.outputs.items():
        components[f"output expression: {name}"] = md5_hex(expression)
    for name, content_ids in fp.file_inputs.items():
        components[f"input: {name}"] = file_input_hash(content_ids)
    return components


def aggregate(hashes: Mapping[str, str]) -> str:
    """MD5 of the component hashes concatenated in key order ("" for none)."""
    return md5_hex("".join(hashes[key] for key in sorted(hashes)))


def call_hashes(fingerprint: CallFingerprint) -> CallHashes:
    """The component hashes and aggregates of a call."""
    components = component_hashes(fingerprint)
    file_keys = {f"input: {name}" for name in fingerprint.file_inputs}
    base = aggregate({k: v for k, v in components.items() if k not in file_keys})
    files = aggregate({k: v for k, v in components.items() if k in file_keys})
    return CallHashes(
        components=components, base=base, files=files, aggregate=md5_hex(base + files)
    )


def diff_hashes(a: Mapping[str, str], b: Mapping[str, str]) -> list[dict[str, str | None]]:
    """Cromwell's ``hashDifferential``: ``{hashKey, callA, callB}`` for each differing key.

    A key present on one side only has ``None`` on the other.
    """
    return [
        {"hashKey": key, "callA": a.get(key), "callB": b.get(key)}
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


@dataclass(frozen=True)
class DiffSide:
    """One call of a ``/callcaching/diff`` request, as the engine knows it."""

    workflow_id: str
    call_fqn: str
    job_index: int
    execution_status: str
    allow_result_reuse: bool
    hashes: Mapping[str, str]

    def describe(self) -> dict[str, Any]:
        """The ``callA``/``callB`` object of the diff response."""
        return {
            "executionStatus": self.execution_status,
            "allowResultReuse": self.allow_result_reuse,
            "callFqn": self.call_fqn,
            "jobIndex": self.job_index,
            "workflowId": self.workflow_id,
        }


def diff_response(a: DiffSide, b: DiffSide) -> dict[str, Any]:
    """The body of ``GET /api/workflows/v1/callcaching/diff``."""
    return {
        "callA": a.describe(),
        "callB": b.describe(),
        "hashDifferential": diff_hashes(a.hashes, b.hashes),
    }
