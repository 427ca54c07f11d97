"""Helpers shared by the step runners: building models and data from plan specs, finding checkpoints,
deriving seeds, and evaluating observables at a single point (no sampling)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from patternlang.errors import PatRuntimeError
from patternlang.plan.ir import CheckpointRef, ComponentSpec, ModelSpec, ObservableSpec
from patternlang.runtime.context import StepContext
from patternlang.runtime.results_types import TrainPoolResult


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any parts (stable across runs and machines)."""
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def build_components(specs: list[ComponentSpec]) -> dict:
    """Data components by name (see :func:`patternlang.data.build.build_components`)."""
    from patternlang.data.build import build_components as _build

    return _build(specs)


def build_model(spec: ModelSpec, ctx: StepContext | None = None, init_seed: int | None = None,
                device: torch.device | str | None = None) -> torch.nn.Module:
    """The model of ``spec`` on the run's device. ``init_seed`` (a seed of a pool of training runs)
    replaces the primitive's ``seed`` argument, or seeds torch's generator around a factory call."""
    from patternlang import registry
    from patternlang.models.factory import build_model as _build

    device = device if device is not None else (ctx.device if ctx else "cpu")
    if init_seed is not None and spec.call is not None:
        prim = registry.get("model", spec.call.primitive)
        if prim is not None and prim.param("seed") is not None:
            call = spec.call.model_copy(update={"args": {**spec.call.args, "seed": init_seed}})
            return _build(spec.model_copy(update={"call": call}), device=device)
    if init_seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            return _build(spec, device=device)
    return _build(spec, device=device)


def load_weights(model: torch.nn.Module, path: Path) -> torch.nn.Module:
    from patternlang.models.checkpoint import load_state

    model.load_state_dict(load_state(path))
    return model


def checkpoint_paths(ref: CheckpointRef, ctx: StepContext) -> list[tuple[int, Path]]:
    """``(seed, path)`` of the checkpoint ``ref`` names, for every seed the train step ran, before
    any selection (see :func:`select_checkpoints`)."""
    trained = ctx.result(ref.train, TrainPoolResult)
    tdir = ctx.input_dir(ref.train)
    out = []
    for seed, ckpts in trained.checkpoints.items():
        key = str(ref.step) if ref.step is not None else str(trained.steps)
        if key not in ckpts:
            raise PatRuntimeError(ctx.dir.path.name, f"train step '{ref.train}' saved no checkpoint "
                                  f"at step {key} (saved: {sorted(ckpts, key=int)})",
                                  f"add {key} to the train step's checkpoints")
        out.append((int(seed), tdir.path / ckpts[key]))
    return out


def evaluate_point(model: torch.nn.Module, observables: list[ObservableSpec], components: dict,
                   mixture: dict[str, float], probe: int, seed: int) -> dict[str, float]:
    """Observables at the model's current weights, by coordinate name (one batched pass per probe).
    A point has no posterior, so no nβ: an observable that needs one (``llc()``) is an error here."""
    from patternlang.observables.observer import build_observer

    was_training = model.training
    model.eval()
    with torch.no_grad():
        observer = build_observer(model, observables, components, mixture, probe=probe, seed=seed,
                                  nbeta=None)
        x, _, _ = observer.evaluate(None)
    model.train(was_training)
    return {name: float(v) for name, v in zip(observer.obs_names, x[0].tolist())}


def select_checkpoints(ref: CheckpointRef, ctx: StepContext, components: dict,
                       mixture: dict[str, float], model_spec: ModelSpec
                       ) -> list[tuple[int, Path, dict[str, float]]]:
    """Checkpoints of ``ref`` whose final observable satisfies ``ref.select`` (all if no selection),
    with the selection observable's values; at most ``limit``, in seed order."""
    found: list[tuple[int, Path, dict[str, float]]] = []
    for seed, path in checkpoint_paths(ref, ctx):
        if ref.select is None:
            found.append((seed, path, {}))
            continue
        model = load_weights(build_model(model_spec, ctx), path)
        vals = evaluate_point(model, [ref.select.observable], components, mixture, probe=128,
                              seed=derive_seed("select", seed))
        v = float(np.mean(list(vals.values())))
        if _compare(v, ref.select.op, ref.select.threshold):
            found.append((seed, path, vals))
        if ref.select.limit and len(found) >= ref.select.limit:
            break
    if not found:
        raise PatRuntimeError(ctx.dir.path.name, f"no checkpoint of '{ref.train}' satisfies "
                              f"{ref.select.observable.name} {ref.select.op} {ref.select.threshold}",
                              "train more seeds, or loosen the selection threshold")
    return found


def _compare(value: float, op: str, threshold: float) -> bool:
    return {">": value > threshold, ">=": value >= threshold,
            "<": value < threshold, "<=": value <= threshold}[op]
