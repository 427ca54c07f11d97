"""Reading ``{ key = value ... }`` blocks against a schema: the settings each declaration takes.

:data:`SCHEMAS` is the single list of settings per declaration kind (with one-line docs, shown in
hints and in ``docs/language.md``); :class:`BlockReader` reports unknown and duplicate keys and
missing required ones, and hands out typed values.
"""

from __future__ import annotations

import builtins
from typing import Any

from patternlang.check import coerce
from patternlang.check.evaluator import Evaluator
from patternlang.check.scope import did_you_mean
from patternlang.check.values import V
from patternlang.engine.sampler import updates as update_rules
from patternlang.registry import Range
from patternlang.syntax import ast as A

SCHEMAS: dict[str, dict[str, str]] = {
    "train": {
        "model": "the model to train (required)",
        "data": "a mixture, one data component, or a patterning's solved mixture (required)",
        "steps": "optimizer steps (required, >= 1)",
        "batch": "sequences per step (default 32)",
        "optimizer": "adamw(lr=..., weight_decay=...) | adam(...) | sgd(...)",
        "schedule": "learning-rate schedule: constant | cosine | linear | warmup_cosine",
        "warmup": "warm-up steps of the schedule",
        "checkpoints": "steps at which to save a checkpoint (the final step is always saved)",
        "seeds": "a number of seeds (a pool: 32) or a list of seeds ([0, 1, 2])",
        "track": "observables to evaluate during training",
        "every": "evaluate the tracked observables every this many steps",
        "init": "start from a checkpoint of another run: init = base.step(100)",
    },
    "sampler": {
        "step": "SGLD step size epsilon (required, > 0)",
        "gamma": "localization strength (required, > 0)",
        "nbeta": "inverse temperature n*beta, or auto = B / log B",
        "chains": "number of chains (>= 1)",
        "draws": "kept draws per chain (>= 1), or auto(z=3, max=N, chunk=100): sample in "
                 "chunks until the targeted chi rows reach |z| >= z, at most N draws",
        "burnin": "steps discarded at the start of each chain",
        "thin": "keep every this many steps",
        "batch": "minibatch size of each SGLD step",
        "restrict": 'sample only these parameters: globs ("blocks.1.*") or heads ("l1h3")',
        "seed": "random seed of the chains",
        "preconditioner": " | ".join(f"{r.name} ({r.doc})" for r in update_rules.RULES.values()),
    },
    "susceptibility": {
        "at": "checkpoint(s) to localize at: run.step(n), run.final, run.final where ... (required)",
        "sampler": "the sampler settings (required)",
        "observe": "observables whose response to the data is measured (required)",
        "components": "the mixture whose components chi is taken against (default: the run's)",
        "probe": "probe sequences per component, fixed once",
        "per_sample": "per-sample susceptibilities: true (each probe sequence) or a list of pool "
                      "components (every example of each)",
        "standardize": "standardize chi before its principal directions",
        "check": "finite_difference(c, ..., delta=0.05): re-sample at shifted mixtures and compare with chi",
        "estimator": "coupled(c, ..., delta=0.05, chains=N, draws=N): chi from paired central "
                     "differences with common random numbers (default: the covariance estimator)",
        "parts": 'component susceptibilities: one row per model part, the loss change under the '
                 'posterior restricted to its weights: heads ("l1h*", "l*h*", "l0h2"), embed, unembed '
                 'or parameter globs ("blocks.0.*"); the rows are dL[part]',
        "columns": "with parts: components (default) | per_sample (each probe sequence) | per_token "
                   "(each predicted position of each probe sequence)",
        "pca": "with parts: the columns of the standardized PCA: finest (default: tokens, else samples, "
               "else components) | components | samples | tokens",
        "definition": "with parts: covariance (default; -Cov within the restricted posterior) | "
                      "devinterp (devinterp's susceptibilities(): centred with the full chain's mean)",
    },
    "patterning": {
        "from": "the susceptibility (or a list of them) to invert (required)",
        "rounds": "rounds of iterative patterning",
        "round_steps": "training steps between rounds (needed when rounds > 1)",
        "regularization": "ridge penalty on the weight change",
        "samples": "pool components whose examples get their own weights (per-sample patterning)",
    },
    "verify": {
        "arms": "which mixtures to retrain: baseline, patterned, opposite, control, orthogonal, "
                "random(K), regression(K, steps=, model=)",
        "seeds": "number of seeds per arm, or a list of seeds",
        "steps": "training steps per arm (default: the original run's)",
        "start": "scratch, or a checkpoint such as base.step(100)",
        "every": "evaluate the observables every this many steps",
        "observe": "observables to track (default: those of the susceptibilities)",
        "model": "train every arm with this model instead of the one chi was measured on "
                 "(transfer: e.g. a wider model of the same family; needs start = scratch)",
    },
    "measure": {
        "at": "checkpoint(s) to evaluate at (required)",
        "observe": "observables to evaluate (required)",
        "probe": "probe sequences per component",
        "seed": "random seed of the probe sets",
    },
    "output": {
        "formats": "report formats: md, html, json",
    },
}

STATEMENTS = {"patterning": (A.Target, A.Move, A.SubjectTo, A.Require), "verify": (A.Onset,)}
_STATEMENT_NAMES = {A.Target: "a target", A.Move: "a target", A.SubjectTo: "'subject to'",
                    A.Onset: "'onset'", A.Require: "'require'"}


class BlockReader:
    """The settings of one block, checked against ``SCHEMAS[decl.kind]``."""

    def __init__(self, ev: Evaluator, decl: A.Decl, module: str):
        self.ev, self.s, self.decl, self.module = ev, ev.s, decl, module
        self.schema = SCHEMAS[decl.kind]
        self.settings: dict[str, A.Setting] = {}
        self.statements: list[A.Item] = []
        self.misspelled: set[str] = set()  # keys that an unknown setting probably meant
        self._values: dict[str, V] = {}
        assert isinstance(decl.body, A.Block)
        allowed = STATEMENTS.get(decl.kind, ())
        for item in decl.body.items:
            if isinstance(item, A.Setting):
                self._add(item)
            elif isinstance(item, allowed):
                self.statements.append(item)
            else:
                self.s.error("PAT505", f"{_STATEMENT_NAMES[type(item)]} does not belong in a "
                                       f"{decl.kind} block", item.span,
                             "targets, 'subject to' and 'require' go in a patterning block, 'onset' in verify")

    def _add(self, item: A.Setting) -> None:
        if item.key not in self.schema:
            keys = list(self.schema)
            self.misspelled.update(k for k in keys if did_you_mean(item.key, [k]))
            self.s.error("PAT204", f"unknown setting '{item.key}' in {self.decl.kind}", item.key_span,
                         did_you_mean(item.key, keys) or f"{self.decl.kind} takes: {', '.join(keys)}")
        elif item.key in self.settings:
            first = self.settings[item.key].span
            self.s.error("PAT502", f"'{item.key}' is set twice (first at line {first.line})", item.key_span)
        else:
            self.settings[item.key] = item

    # -- access -------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self.settings

    def span(self, key: str):
        return self.settings[key].value.span if key in self.settings else \
            (self.decl.name_span or self.decl.span)

    def raw(self, key: str) -> A.Expr | None:
        return self.settings[key].value if key in self.settings else None

    def value(self, key: str) -> V | None:
        if key not in self.settings:
            return None
        if key not in self._values:
            self._values[key] = self.ev.eval(self.settings[key].value, self.module, {})
        return self._values[key]

    def require(self, key: str) -> V | None:
        if key not in self.settings and key in self.misspelled:
            return None
        if key not in self.settings:
            what = self.decl.name or self.decl.kind
            self.s.error("PAT303", f"{self.decl.kind} '{what}' needs '{key}'", self.decl.name_span or
                         self.decl.span, f"add: {key} = ...   ({self.schema[key]})")
            return None
        return self.value(key)

    def int(self, key: str, default: Any, rng: Range | None = None, required: bool = False):
        v = self.require(key) if required else self.value(key)
        return default if v is None else coerce.as_int(self.s, v, key, rng)

    def float(self, key: str, default: Any, rng: Range | None = None, required: bool = False):
        v = self.require(key) if required else self.value(key)
        return default if v is None else coerce.as_float(self.s, v, key, rng)

    def bool(self, key: str, default: bool):
        v = self.value(key)
        return default if v is None else coerce.as_scalar(self.s, v, "bool", key)

    def choices(self, key: str, allowed: tuple[str, ...], default: list[str] | None,
                many: builtins.bool = True) -> list[str] | None:
        """Bare words from a fixed set (``arms = [baseline, patterned]``), read without lookup."""
        raw = self.raw(key)
        if raw is None:
            return default
        items = raw.items if isinstance(raw, A.ListExpr) and many else (raw,)
        out = []
        for it in items:
            word = it.id if isinstance(it, A.Name) else it.value if isinstance(it, A.Str) else None
            if word not in allowed:
                hint = did_you_mean(str(word), allowed) if word else None
                self.s.error("PAT301", f"{key} must be {' or '.join(allowed) if not many else 'among: ' + ', '.join(allowed)}"
                             f", found {A.show(it)}", it.span, hint)
                return None
            out.append(word)
        return out
