"""The observation engine: evaluate every observable and every component loss at each draw.

``build_observer`` fixes the probe sets once (seeded), evaluates everything once at the center w*
(to record center losses, discover which probes need attention, name every output coordinate and
report bad arguments before any sampling), and returns an :class:`Observer`. Called by the sampler
as ``observer(params)`` with stacked chain parameters ``[C, ...]``, it runs one batched no-grad
forward pass per probe — all chains at once: natively chain-batched where the attention adapter
offers ``run_chains`` (the stdlib transformer), through ``vmap`` otherwise — shared by every
observable reading that probe (loss and attention from the same pass), and feeds a
:class:`Comoments` accumulator with

* x: the observable coordinates, named ``name`` (scalar) or ``name[l1h0]`` (per head);
* y: L_k − L for each component k (L = Σ h_k L_k, all on the probes), and in per-sample mode also
  ℓ_{k,i} − L for each probe sample i of each component, named ``k[i]``, and in per-token mode
  ℓ_{k,i,t} − L for each predicted position t (1-based) of each probe sequence, named ``k[i]@t``
  (the columns of the component susceptibilities, :mod:`patternlang.engine.component_chi`);
* dx: for the observables that read the mixture themselves (``llc``, ``loss_increase()``: found at
  discovery, when the context reports the read), the explicit derivative (1/nβ)·∂φ/∂ε along each y
  column's direction — φ re-evaluated with the mixture replaced by that component or sample, minus
  φ (exact for observables affine in the mixture; no extra forward pass). χ then is the whole
  derivative (1/nβ)·d⟨φ⟩/dε = −Cov(φ, y) + ⟨dx⟩, not only its covariance part.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from patternlang import registry
from patternlang.engine.chi import Chi, estimate_chi
from patternlang.engine.moments import Comoments
from patternlang.errors import PatRuntimeError
from patternlang.observables.context import EvalContext, Labeled, probe_generator
from patternlang.plan.ir import ObsExpr, ObservableSpec

Value = Tensor | Labeled


def _fail(cause: str, remedy: str) -> PatRuntimeError:
    return PatRuntimeError("observe", cause, remedy)


def _call_primitive(node: ObsExpr, ctx: EvalContext) -> Value:
    prim = registry.get("observable", node.name or "")
    if prim is None:
        raise _fail(f"unknown observable {node.name!r}",
                    f"use one of {', '.join(registry.names('observable'))}")
    unknown = set(node.args) - {p.name for p in prim.params}
    missing = [p.name for p in prim.params if p.required and p.name not in node.args]
    if unknown or missing:
        raise _fail(f"{node.name}: unknown arguments {sorted(unknown)}" if unknown else
                    f"{node.name}: missing arguments {missing}",
                    f"{node.name} takes ({', '.join(p.name for p in prim.params)})")
    return prim.fn(ctx, **node.args)


def _binary(op: str, a: Value, b: Value) -> Value:
    va = a.value if isinstance(a, Labeled) else a
    vb = b.value if isinstance(b, Labeled) else b
    if isinstance(a, Labeled) and isinstance(b, Labeled) and va.shape != vb.shape:
        raise _fail(f"cannot {op} vectors of {va.shape[-1]} and {vb.shape[-1]} coordinates",
                    "select the same heads on both sides, or reduce with mean/sum")
    if isinstance(a, Labeled) and vb.dim() == 1:
        vb = vb[:, None]
    if isinstance(b, Labeled) and va.dim() == 1:
        va = va[:, None]
    fn: Any = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}[op]
    out = fn(va, vb)
    labels = a.labels if isinstance(a, Labeled) else b.labels if isinstance(b, Labeled) else None
    return Labeled(out, labels) if labels is not None else out


def evaluate_expr(node: ObsExpr, ctx: EvalContext) -> Value:
    """Evaluate one expression tree (``prim``/``const``/``add``/``sub``/``mul``/``div``/``neg``/
    ``mean``/``sum``/``index``) to ``Tensor[C]`` or ``Labeled[C, D]``."""
    op = node.op
    if op == "prim":
        out = _call_primitive(node, ctx)
        if isinstance(out, Tensor) and out.dim() == 2:
            out = Labeled(out, tuple(str(i) for i in range(out.shape[1])))
        return out
    if op == "const":
        return torch.full((ctx.chains,), float(node.value or 0.0), dtype=torch.float64)
    args = [evaluate_expr(o, ctx) for o in node.operands]
    if op in ("add", "sub", "mul", "div"):
        if len(args) < 2:
            raise _fail(f"'{op}' needs two operands", "this is a lowering bug; please report it")
        out = args[0]
        for b in args[1:]:
            out = _binary(op, out, b)
        return out
    if op in ("neg", "mean", "sum", "index") and len(args) != 1:
        raise _fail(f"'{op}' takes one operand", "this is a lowering bug; please report it")
    if op == "neg":
        a = args[0]
        return Labeled(-a.value, a.labels) if isinstance(a, Labeled) else -a
    if op in ("mean", "sum"):
        a = args[0]
        v = a.value if isinstance(a, Labeled) else a
        return v.mean(-1) if op == "mean" and v.dim() == 2 else v.sum(-1) if v.dim() == 2 else v
    if op == "index":
        a = args[0]
        if not isinstance(a, Labeled) or not 0 <= (node.index or 0) < a.value.shape[1]:
            raise _fail(f"index {node.index} out of range", "index a vector observable within "
                        "its coordinates (0-based)")
        return a.value[:, node.index]
    raise _fail(f"operation {op!r} cannot be observed", "targets may use 'ref'; observables not")


class Observer:
    """Callable ``observer(params) -> {"x": [C, M], "y": [C, K], "loss": [C]}`` that also
    accumulates :class:`Comoments` (see the module docstring)."""

    def __init__(self, ctx: EvalContext, observables: list[ObservableSpec], per_sample: bool,
                 batch_draws: int = 10, fuse: bool = False, pools: list[str] | None = None,
                 columns: list[str] | None = None, per_token: bool = False):
        self.ctx, self.observables, self.per_sample = ctx, observables, per_sample or bool(pools)
        self.per_token = per_token
        self.fuse = fuse  # run same-shape probes as one concatenated pass per draw
        self.batch_draws = batch_draws
        # chi's columns: the mixture's components; a component that is only measured (a probe,
        # ``loss(heldout)``) has a probe set but no column
        self.components = list(ctx.weights) if columns is None else list(columns)
        self.obs_names: list[str] = []
        # the y columns: each component, then (per-sample mode) each probe sample of each component
        self.directions: list[tuple[str, int | None]] = [(k, None) for k in self.components]
        # per-sample columns: every probe sample of every component, or every example of each pool
        self.sampled = list(pools) if pools else (self.components if per_sample else [])
        self.directions += [(k, i) for k in self.sampled
                            for i in range(ctx.batch(k)["tokens"].shape[0])]
        self.comp_names = [k if i is None else f"{k}[{i}]" for k, i in self.directions]
        self.tokens: list[str] = []  # per-token columns: every position of every component's probe
        if per_token:
            self.tokens = [k for k in self.components if k not in (pools or [])]
            for k in self.tokens:
                n, T = ctx.batch(k)["tokens"].shape[:2]
                self.comp_names += [f"{k}[{i}]@{t}" for i in range(n) for t in range(1, T)]
        self.mixture_dependent: list[bool] | None = None  # per observable, set at discovery
        self.starts: list[int] = []  # first x column of each observable, set at discovery
        self.moments: Comoments | None = None

    def evaluate(self, params: Mapping[str, Tensor] | None) -> tuple[Tensor, Tensor, Tensor]:
        """(x [C, M], y [C, K], mixture loss [C]) in float64 at stacked parameters (None: the
        model's own, as one chain). Does not accumulate."""
        ctx = self.ctx
        ctx.set_params(dict(params) if params is not None else None)
        if self.fuse:
            ctx.prefetch(list(ctx.probes))
        cols, names, dependent = [], [], []
        for spec in self.observables:
            ctx.read_mixture = False
            v = evaluate_expr(spec.expr, ctx)
            dependent.append(ctx.read_mixture)
            if isinstance(v, Labeled):
                cols.append(v.value.double())
                names += [f"{spec.name}[{lab}]" for lab in v.labels]
            else:
                cols.append(v.double().reshape(ctx.chains, 1))
                names.append(spec.name)
        if not self.obs_names:
            self.obs_names = names
        if self.mixture_dependent is None:
            self.mixture_dependent = dependent
            widths = [c.shape[1] for c in cols]
            self.starts = [sum(widths[:i]) for i in range(len(widths))]
        losses = {k: ctx.run(k).per_sample.double() for k in self.components}  # [C, n] each
        L_k = torch.stack([losses[k].mean(-1) for k in self.components], dim=1)  # [C, K]
        h = torch.tensor([ctx.weights[k] for k in self.components], dtype=torch.float64)
        L = L_k @ h
        ys = [L_k - L[:, None]]
        ys += [losses[k] - L[:, None] for k in self.sampled]
        for k in self.tokens:
            tok = ctx.run(k).per_token
            if tok is None:
                raise _fail(f"per_token: the model's task ({ctx.task}) has no per-token loss",
                            "use per_sample columns for classifiers")
            ys.append(tok.double().reshape(tok.shape[0], -1) - L[:, None])
        x = torch.cat(cols, dim=1) if cols else torch.zeros(ctx.chains, 0, dtype=torch.float64)
        return x, torch.cat(ys, dim=1), L

    def explicit(self, x: Tensor) -> Tensor | None:
        """dx [C, M, K]: (1/nβ)·∂φ/∂ε toward each y column's component or sample, for the
        observables that read the mixture (zero rows for the others); None when none does. Uses
        the draw's cached forward passes, so it must follow :meth:`evaluate` at the same draw."""
        if not any(self.mixture_dependent or ()):
            return None
        if self.tokens:
            raise _fail("an observable that reads the mixture (llc, loss_increase()) cannot be "
                        "observed with per-token columns", "observe it in a separate susceptibility")
        ctx = self.ctx
        dx = torch.zeros(x.shape[0], x.shape[1], len(self.directions), dtype=torch.float64)
        for spec, dependent, col in zip(self.observables, self.mixture_dependent, self.starts):
            if not dependent:
                continue
            for j, direction in enumerate(self.directions):
                ctx.toward = direction
                try:
                    v = evaluate_expr(spec.expr, ctx)
                finally:
                    ctx.toward = None
                v = (v.value if isinstance(v, Labeled) else v.reshape(-1, 1)).double()
                dx[:, col:col + v.shape[1], j] = v - x[:, col:col + v.shape[1]]
        return dx / ctx.posterior_nbeta()

    @torch.no_grad()
    def __call__(self, params: Mapping[str, Tensor]) -> dict[str, Tensor]:
        x, y, L = self.evaluate(params)
        if self.moments is None:
            self.moments = Comoments(x.shape[0], max(x.shape[1], 1), y.shape[1], self.batch_draws,
                                     tuple(self.obs_names), tuple(self.comp_names))
        if x.shape[1]:
            self.moments.update(x, y, self.explicit(x))
        return {"x": x, "y": y, "loss": L}

    def resume(self, moments: Comoments) -> None:
        """Keep accumulating into ``moments`` (a saved chunk's), so that the draws of a continued
        run add to those of the run it continues (``draws = auto``'s chunks)."""
        self.moments = moments

    def reset(self) -> Comoments | None:
        """Hand back the accumulated moments and start empty (a new chain group)."""
        out, self.moments = self.moments, None
        return out

    def chi(self) -> Chi:
        if self.moments is None:
            raise _fail("no draws were observed", "run the sampler with this observer first")
        return estimate_chi(self.moments)


def _weights(components: Mapping[str, Any], mixture: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(mixture) - set(components))
    if unknown:
        raise _fail(f"mixture names unknown components {unknown}",
                    f"declare them or use {sorted(components)}")
    if any(w < 0 for w in mixture.values()) or sum(mixture.values()) <= 0:
        raise _fail("mixture weights must be >= 0 with a positive sum", "fix the mixture")
    total = float(sum(mixture.values()))
    return {k: float(mixture.get(k, 0.0)) / total for k in components}


def build_observer(model: nn.Module, observables: list[ObservableSpec],
                   components: Mapping[str, Any], mixture: Mapping[str, float], probe: int,
                   seed: int, per_sample: bool = False, *, nbeta: float | None,
                   center_params: Mapping[str, Tensor] | None = None,
                   batch_draws: int = 10, fuse: bool = False,
                   pools: list[str] | None = None, per_token: bool = False) -> Observer:
    """Build the observer for a sample (or observe) step.

    Args:
        model: the model; its parameter names are the keys of the sampler's ``params``.
        observables: named observable expressions (``ObservableSpec``) to record at each draw.
        components: data components by name (``DataComponent.sample(n, g) -> batch``).
        mixture: mixture weights h_k (normalised here). chi has one column per component named
            here; the other ``components`` are only measured (``loss(heldout)``): weight 0, no column.
        probe: probe sequences per component (and per special probe), drawn once from ``seed``.
        seed: seed of every probe set.
        per_sample: also one y column per probe sample (per-sample χ; Bayesian influence).
        nbeta: the sampler's nβ (used by ``llc()``); ``None`` at a point (no posterior).
        center_params: w* (unstacked); default: the model's current parameters.
        batch_draws: draws per batch (the finest level of the blocking standard error).
        fuse: evaluate probes of the same shape in one concatenated forward pass per draw
            (same numbers, fewer and larger passes: meant for GPUs; on CPU it measured 2x slower
            in ``bench/observe_overhead.py`` — larger activations fall out of cache — so it is off
            by default).
        pools: example-pool components (``ExampleComponent``) whose probe is every example in
            order, each with its own y column (per-sample χ over the whole pool); with ``pools`` the
            other components get no per-sample columns.
        per_token: also one y column per predicted position of every (non-pool) component's probe
            sequences, ``k[i]@t`` (language models; the component susceptibilities' token columns).
    """
    if probe < 2:
        raise _fail(f"probe={probe} sequences per component", "use probe >= 2")
    weights = _weights(components, mixture)
    probes = {k: comp.sample(probe, probe_generator(seed, "component:" + k))
              for k, comp in components.items() if k not in (pools or [])}
    for k in pools or []:
        examples = getattr(components.get(k), "examples", None)
        if examples is None:
            raise _fail(f"per_sample = [{k}]: '{k}' is not an example pool (its data are generated "
                        "or streamed, so there is no fixed set of examples to weight)",
                        "use a pool component, e.g. python_code_pool(...), token_file of [N, T] rows")
        probes[k] = dict(examples)
    ctx = EvalContext(model, probes, weights, None if nbeta is None else float(nbeta), seed, probe)
    ctx.set_center(dict(center_params) if center_params is not None else None)
    names = [o.name for o in observables]
    if len(set(names)) != len(names):
        raise _fail(f"observable names repeat: {names}", "give every observable its own name")
    columns = [k for k in components if k in mixture]
    obs = Observer(ctx, list(observables), per_sample, batch_draws, fuse, pools, columns, per_token)
    center = None if center_params is None else {k: v[None] for k, v in center_params.items()}
    obs.evaluate(center)  # discovery: names, attention needs, argument errors — before sampling
    return obs
