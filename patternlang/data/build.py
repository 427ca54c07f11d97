"""Build the data components a plan declares (:class:`~patternlang.plan.ir.ComponentSpec`).

A component is a data primitive call, a file (``.npy`` / ``.safetensors`` token ids, anything else is
read as UTF-8 text; ``factory_args`` may carry ``length`` and ``vocab``), or a Python factory
returning a :class:`DataComponent`. Each built component takes the name the spec gives it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from patternlang import registry
from patternlang.data.component import ComponentError, DataComponent
from patternlang.data.mixture import Mixture


def _primitive(name: str, call: Any) -> DataComponent:
    prim = registry.get("data", call.primitive)
    if prim is None:
        raise ComponentError(name, f"no data primitive named {call.primitive!r}",
                             f"use one of {registry.names('data')}")
    try:
        return prim.fn(**dict(call.args))
    except TypeError as exc:
        raise ComponentError(name, f"{call.primitive}(...) rejected its arguments: {exc}",
                             f"see the parameters of {call.primitive}") from exc


def _file(path: str, args: dict[str, Any]) -> DataComponent:
    from patternlang.data.text import text_file, token_file

    if Path(path).suffix in (".npy", ".safetensors"):
        return token_file(path, **{k: v for k, v in args.items() if k == "length"})
    return text_file(path, **{k: v for k, v in args.items() if k in ("vocab", "length")})


def build_component(spec: Any) -> DataComponent:
    """One component from a ``ComponentSpec``, renamed to ``spec.name``."""
    sources = [s for s in (spec.call, spec.path, spec.factory) if s is not None]
    if len(sources) != 1:
        raise ComponentError(spec.name, f"{len(sources)} sources given (call, path, factory)",
                             "give exactly one way to build the component")
    if spec.call is not None:
        comp = _primitive(spec.name, spec.call)
    elif spec.path is not None:
        comp = _file(spec.path, dict(spec.factory_args))
    else:
        from patternlang.errors import mark_declared_at
        from patternlang.models.factory import load_factory
        fn = load_factory(spec.factory)
        try:
            comp = fn(**dict(spec.factory_args))
        except Exception as exc:  # the user's code: the error names the declaration too
            mark_declared_at(exc, spec.loc)
            raise
    if not isinstance(comp, DataComponent):
        raise ComponentError(spec.name, f"the source returned {type(comp).__name__}, not a "
                             "DataComponent", "return a patternlang.data.DataComponent")
    return comp.renamed(spec.name)


def build_components(specs: Sequence[Any]) -> dict[str, DataComponent]:
    """Components by name, in declaration order."""
    out: dict[str, DataComponent] = {}
    for spec in specs:
        if spec.name in out:
            raise ComponentError(spec.name, "declared twice", "give each component its own name")
        out[spec.name] = build_component(spec)
    return out


def mixture_of(components: dict[str, DataComponent], weights: dict[str, float]) -> Mixture:
    """The :class:`Mixture` that a step trains or samples on: the components ``weights`` names, in
    the order of ``weights`` (the order fixes how a batch is drawn, so it is part of the numbers);
    a weight for a component not in ``components`` is ignored."""
    names = [n for n in weights if n in components]
    return Mixture([components[n] for n in names], [weights[n] for n in names])
