"""The sampler's update rules (a preconditioner with its step), registered in one place.

An *update rule* advances every chain by one step of localized, tempered Langevin dynamics. It is
built once per :func:`run_sgld <patternlang.engine.sampler.sgld.run_sgld>` call by its factory
(:class:`UpdateFactory`, usually the class itself) and then called once per step with the chains'
positions ``flat [C, P]`` and the minibatch loss gradients ``grad [C, P]`` (which it may overwrite),
moving ``flat`` in place. It owns its random numbers (one noise generator per chain, in ``gens``)
and whatever it keeps between steps (:meth:`UpdateRule.state`, so a run continued from a
:class:`ChainState <patternlang.engine.sampler.chain_state.ChainState>` gives the numbers of one
long run). The spec names a rule by ``preconditioner = NAME`` in a ``sampler`` block;
``SGLDConfig(preconditioner=NAME)`` in Python.

Adding one is one module with the rule plus one :func:`register` line below (the checker, the
config's validation, ``patc explain``'s key docs and the engine read :data:`RULES`)::

    register("mine", "patternlang.engine.sampler.mine:MyUpdate", "what it does, in one line")

This module imports no torch: the front end (``patc check``, the language server) reads the names
and docs; :func:`load` imports a rule's module on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from patternlang.engine.sampler.sgld import SGLDConfig

__all__ = ["RULES", "Rule", "UpdateFactory", "UpdateRule", "load", "names", "register"]


class UpdateRule(Protocol):
    """One sampler step on all chains (see the module docstring)."""

    alive: Tensor | None
    """``[C, 1]`` of 0/1 once a chain has been dropped (its position must then stay put), else None."""

    def __call__(self, flat: Tensor, grad: Tensor) -> None:
        """Move ``flat [C, P]`` by one step given the loss gradients ``grad [C, P]`` at ``flat``."""

    def state(self) -> dict[str, Any]:
        """What a continued run needs (plain numpy arrays and numbers; ``{}`` when stateless)."""

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` (arrays come back as numpy arrays)."""


class UpdateFactory(Protocol):
    """Builds an :class:`UpdateRule`: ``cfg`` the run's settings, ``nbeta`` the concrete nβ,
    ``center`` the flat w* ``[P]``, ``index`` the sampled coordinates (None = all), ``gens`` one
    noise generator per chain, ``C`` the number of chains."""

    def __call__(self, cfg: SGLDConfig, nbeta: float, center: Tensor, index: Tensor | None,
                 gens: Sequence[torch.Generator], C: int) -> UpdateRule: ...


@dataclass(frozen=True)
class Rule:
    """A registered update rule: ``target`` is ``"module:attribute"`` of its factory."""

    name: str
    target: str
    doc: str


RULES: dict[str, Rule] = {}


def register(name: str, target: str, doc: str) -> None:
    """Register the factory at ``target`` (``"module:attribute"``) as ``preconditioner = name``."""
    if not name.isidentifier() or ":" not in target:
        raise ValueError(f"bad update rule registration {name!r} -> {target!r}")
    RULES[name] = Rule(name, target, doc)


def names() -> tuple[str, ...]:
    """The valid ``preconditioner`` values, the default (``none``) first."""
    return tuple(RULES)


def load(name: str) -> UpdateFactory:
    """The factory of rule ``name`` (imports its module)."""
    module, _, attr = RULES[name].target.partition(":")
    factory: UpdateFactory = getattr(importlib.import_module(module), attr)
    return factory


register("none", "patternlang.engine.sampler.sgld:SGLDUpdate", "plain SGLD, the default")
register("rmsprop", "patternlang.engine.sampler.rmsprop:RMSPropUpdate",
         "RMSProp-preconditioned SGLD: a diagonal preconditioner adapted during burn-in, then frozen")
register("fixed", "patternlang.engine.sampler.fixed_diag:FixedDiagUpdate",
         "SGLD with a diagonal preconditioner fixed at the center: position-independent")
