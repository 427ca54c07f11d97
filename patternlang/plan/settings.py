"""What the steps build and run with, resolved from the spec: the model, the data components and
their mixture, the optimizer, and the sampler (SGLD) settings."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from patternlang.plan.base import IRModel, SourceLoc


class Call(IRModel):
    """A call of a registered primitive with fully resolved keyword arguments."""

    primitive: str
    args: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(IRModel):
    """How to build the model. Exactly one of ``call`` / ``checkpoint`` / ``factory`` is the source;
    ``checkpoint`` may also be combined with ``call`` or ``factory`` (architecture + weights)."""

    name: str
    call: Call | None = None
    factory: str | None = None  # "package.module:function"
    factory_args: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None  # path to .safetensors (or a weights_only torch file)
    #: where the spec builds it, for errors raised in a factory (not in the hashes)
    loc: SourceLoc | None = Field(default=None, exclude_if=lambda v: v is None)


class ComponentSpec(IRModel):
    """A named data component: a primitive call, a file of text/tokens, or a Python factory."""

    name: str
    call: Call | None = None
    path: str | None = None
    factory: str | None = None
    factory_args: dict[str, Any] = Field(default_factory=dict)
    #: the declaration, for errors raised in a factory (not in the hashes)
    loc: SourceLoc | None = Field(default=None, exclude_if=lambda v: v is None)


class MixtureSpec(IRModel):
    """Mixture weights h_k by component name (normalised to sum to one by the front end)."""

    name: str
    weights: dict[str, float]


class OptimizerSpec(IRModel):
    name: Literal["adamw", "sgd", "adam"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0
    schedule: Literal["constant", "cosine", "linear", "warmup_cosine"] = "constant"
    warmup: int = 0


class DrawsAuto(IRModel):
    """``draws = auto(z=3, max=N, chunk=C)``: sample in chunks of ``chunk`` kept draws until
    every targeted χ row has a component with |z| >= ``z`` (no patterning downstream: until the
    LLC's λ̂/SE >= ``z``), at most ``SamplerSpec.draws`` (= ``max``) draws; see
    :mod:`patternlang.runtime.steps.sample.draws_auto`."""

    z: float = 3.0
    chunk: int


class SamplerSpec(IRModel):
    """Localized tempered SGLD settings (devinterp's update with the minibatch mean loss), spelled as
    in the language; :func:`patternlang.runtime.services.sampling.sgld_config` is the one place they become
    the engine's :class:`~patternlang.engine.sampler.sgld.SGLDConfig` (``step`` -> ``step_size``,
    ``chains`` -> ``num_chains``, ``draws`` -> ``num_draws``; the defaults are the same)."""

    step: float | Literal["auto"]  # epsilon, or "auto": scanned at the center (runtime/steps/sample/step_auto.py)
    gamma: float  # localization strength; required, no silent 0
    nbeta: float  # concrete: the compiler resolves ``auto`` to B / log B of ``batch``
    chains: int = 4
    draws: int = 100
    burnin: int = 0
    thin: int = 1
    batch: int = 32
    restrict: list[str] = Field(default_factory=list)  # parameter globs or heads like "l1h3"
    seed: int = 0
    preconditioner: str = "none"  # the update rule: a name registered in engine/sampler/updates.py
    # ``draws = auto(z, max, chunk)``: ``draws`` is then the budget ``max``; left out of the JSON (and
    # the hash) while unset, so plans with a fixed number of draws are unchanged
    draws_auto: DrawsAuto | None = Field(default=None, exclude_if=lambda v: v is None)
