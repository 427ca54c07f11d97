"""Stable diagnostic codes. A code never changes meaning; new problems get new codes.

``PAT1xx`` syntax, ``PAT2xx`` names and imports, ``PAT3xx`` types and ranges, ``PAT4xx`` convexity
of constraints, ``PAT5xx`` structure (duplicates, cycles, missing pieces).
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "PAT101": "unexpected token",
    "PAT102": "unexpected character",
    "PAT103": "unexpected end of file",
    "PAT104": "missing closing bracket",
    "PAT105": "invalid string literal",
    "PAT201": "unknown name",
    "PAT202": "unknown function or primitive",
    "PAT203": "unknown parameter of a call",
    "PAT204": "unknown setting in a block",
    "PAT205": "module not found",
    "PAT206": "ambiguous name (defined by several imported modules)",
    "PAT207": "target or selection on an observable the susceptibility does not observe",
    "PAT301": "wrong type of value",
    "PAT302": "value out of range",
    "PAT303": "missing required parameter or setting",
    "PAT304": "bad arguments (too many, or given twice)",
    "PAT305": "wrong kind of declaration for this place",
    "PAT306": "target or threshold on a per-head observable (reduce it first)",
    "PAT307": "target is not linear in the observables",
    "PAT308": "checkpoint that the training run does not save",
    "PAT309": "file not found",
    "PAT310": "bad combination of settings",
    "PAT320": "value above a limit the checker enforces (seed count, draws x chains)",
    "PAT321": "number that is not finite, or too large",
    "PAT322": "expression nested too deeply",
    "PAT330": "the plan's estimated cost is far above this machine (a warning)",
    "PAT331": "a step's estimated memory is above this machine's memory",
    "PAT401": "constraint is not convex in the weights",
    "PAT402": "convex constraint in a form the solver does not take",
    "PAT403": "constraint does not involve any data weight",
    "PAT410": "linear constraints that cannot all hold",
    "PAT501": "duplicate declaration",
    "PAT502": "duplicate setting or list entry",
    "PAT503": "cycle between declarations",
    "PAT504": "import cycle",
    "PAT505": "declaration not allowed here",
    "PAT506": "declaration needs a name",
    "PAT507": "the spec is empty",
}
