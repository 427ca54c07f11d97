"""The version of what a run directory holds, and how a directory written by an earlier version is
read: :data:`RESULTS_SCHEMA` is the version of ``results.json`` (``docs/results.md``);
:func:`upgrade_result` reads a step's ``done.json`` of any earlier schema as the current model
expects it, and :func:`upgrade_document` a whole ``results.json``. Both only rename: no number
is recomputed or dropped, so an old run resumes from its finished steps and ``patc report DIR``
re-renders it.

Schema history:

* 2 → 3 (issue 25, one name per concept): the results of the solve step are in ``solves`` (was
  ``solutions``), a round's record of its solve is ``rounds[r].solve`` (was ``.solution``), and a
  finite-difference row's shift of the mixture is ``delta`` (was ``eps``: ε is only the SGLD step).
"""

from __future__ import annotations

import copy
from typing import Any

RESULTS_SCHEMA = 3

#: results.json sections renamed since schema 2: old key -> new key
SECTION_RENAMES = {"solutions": "solves"}


def _renamed(record: dict, old: str, new: str) -> None:
    if old in record and new not in record:
        record[new] = record.pop(old)


def upgrade_result(data: dict[str, Any]) -> dict[str, Any]:
    """A step result (``done.json``, or its entry in ``results.json``) of any schema, as the
    current model reads it; ``data`` itself is not changed."""
    kind = data.get("kind")
    if kind not in ("solve", "susceptibility"):
        return data
    out = copy.deepcopy(data)
    if kind == "solve":
        for r in out.get("rounds") or []:
            _renamed(r, "solution", "solve")
    else:
        for row in out.get("finite_difference") or []:
            _renamed(row, "eps", "delta")
    return out


def upgrade_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A ``results.json`` of schema 2 as schema 3 (a current one is returned as it is)."""
    if doc.get("schema", RESULTS_SCHEMA) >= RESULTS_SCHEMA:
        return doc
    out = dict(doc)
    for old, new in SECTION_RENAMES.items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    for name in ("solves", "susceptibilities"):
        if isinstance(out.get(name), dict):
            out[name] = {sid: upgrade_result(entry) for sid, entry in out[name].items()}
    out["schema"] = RESULTS_SCHEMA
    return out
