"""Build models from a :class:`~patternlang.plan.ir.ModelSpec`: a registered primitive, a Python
factory (``"package.module:function"``), and/or checkpoint weights.

A factory is user code the plan will import and run; ``patc compile`` lists every factory and its
file before anything runs (``Plan.factories``). Errors name the factory and say what to fix.

Where factory modules are found: installed packages (``sys.path``) first; then, for the top-level
modules the spec's factories name and only those, the spec's folder (:func:`allow_spec_modules`).
The spec's folder is never put on ``sys.path``: a ``numpy.py`` or ``safetensors.py`` lying beside a
spec must not run in place of the real package. Worker processes (``spawn``) learn the allowed
modules from ``$PATTERNLANG_FACTORY_DIRS``, which :func:`allow_spec_modules` sets.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
from typing import Any, Callable

import torch
from torch import nn

from patternlang import registry
from patternlang.errors import PatRuntimeError, mark_declared_at
from patternlang.models import checkpoint
from patternlang.plan.ir import ModelSpec


class FactoryError(PatRuntimeError):
    """A Python factory named in a spec cannot be imported or called."""


FACTORY_DIRS_ENV = "PATTERNLANG_FACTORY_DIRS"  # JSON {top-level module: folder}, for workers


class SpecFolderFinder(importlib.abc.MetaPathFinder):
    """Finds the named top-level modules in their spec's folder. It sits last on
    ``sys.meta_path``, so an installed package of the same name always wins, and any other name
    (``numpy``, ``torch``) is never looked up there."""

    def __init__(self) -> None:
        self.where: dict[str, str] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        folder = self.where.get(fullname) if path is None else None
        if folder is None:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [folder])


_FINDER = SpecFolderFinder()


def _install_finder() -> SpecFolderFinder:
    """Put the finder last on ``sys.meta_path`` (once) and merge what the parent process allowed."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)
    try:
        inherited = json.loads(os.environ.get(FACTORY_DIRS_ENV, "{}"))
    except ValueError:
        inherited = {}
    if isinstance(inherited, dict):
        _FINDER.where.update({str(k): str(v) for k, v in inherited.items()})
    return _FINDER


def top_modules(refs: list[str]) -> set[str]:
    """The top-level module names of ``"package.module:function"`` references."""
    return {r.partition(":")[0].split(".")[0] for r in refs if r.partition(":")[0]}


def allow_spec_modules(folder: str | os.PathLike, refs: list[str]) -> None:
    """Let the factory modules ``refs`` name be imported from ``folder`` (the spec's), after the
    installed packages; no other module is ever looked up there. Also for worker processes."""
    finder = _install_finder()
    finder.where.update({name: str(folder) for name in top_modules(refs)})
    os.environ[FACTORY_DIRS_ENV] = json.dumps(finder.where)


def load_factory(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the callable.

    Raises:
        FactoryError: malformed reference, module not importable, attribute missing or not callable.
    """
    step = f"factory {ref}"
    mod_name, sep, attr = str(ref).partition(":")
    if not sep or not mod_name or not attr:
        raise FactoryError(step, f"{ref!r} is not of the form 'package.module:function'",
                           "write the module path, a colon, then the function name")
    _install_finder()
    try:
        module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise FactoryError(step, f"cannot import module {mod_name!r} ({exc})",
                           "check the module name: a module beside the spec (modtask.py for "
                           "'modtask:fn'), an installed package, or one on PYTHONPATH") from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise FactoryError(step, f"module {mod_name!r} has no attribute {attr!r}",
                               "check the function name after the colon")
        obj = getattr(obj, part)
    if not callable(obj):
        raise FactoryError(step, f"{ref!r} is a {type(obj).__name__}, not callable",
                           "point at a function (or class) that returns the object")
    return obj


def _call(step: str, fn: Callable[..., Any], args: dict[str, Any]) -> Any:
    try:
        return fn(**args)
    except TypeError as exc:
        raise FactoryError(step, f"calling it with {sorted(args)} failed: {exc}",
                           "pass the arguments the function accepts") from exc


def _from_call(spec_call: Any) -> nn.Module:
    prim = registry.get("model", spec_call.primitive)
    if prim is None:
        raise PatRuntimeError(f"model {spec_call.primitive}",
                              f"no model primitive named {spec_call.primitive!r}",
                              f"use one of {registry.names('model')} or a factory")
    model = _call(f"model {spec_call.primitive}", prim.fn, dict(spec_call.args))
    model.spec_call = {"primitive": spec_call.primitive, "args": dict(spec_call.args)}
    return model


def _from_sidecar(path: str) -> nn.Module:
    call = checkpoint.load_meta(path).get("call")
    if not call:
        raise PatRuntimeError(f"model {path}", f"checkpoint {path} does not record its architecture",
                              "name the model primitive or factory together with the checkpoint")
    from patternlang.plan.ir import Call
    return _from_call(Call(primitive=call["primitive"], args=call.get("args", {})))


def build_model(spec: ModelSpec, device: str | torch.device = "cpu") -> nn.Module:
    """The model a spec describes, with checkpoint weights loaded when given, on ``device``.

    Sources: ``call`` (a registered model primitive), ``factory`` (+ ``factory_args``), or a
    ``checkpoint`` alone (the architecture is read from its sidecar); ``checkpoint`` with either
    of the others loads its weights into the built model.
    """
    if spec.call is not None and spec.factory is not None:
        raise PatRuntimeError(f"model {spec.name}", "both a primitive call and a factory are given",
                              "use one of them to build the model")
    if spec.call is not None:
        model = _from_call(spec.call)
    elif spec.factory is not None:
        try:
            model = _call(f"factory {spec.factory}", load_factory(spec.factory),
                          dict(spec.factory_args))
        except Exception as exc:  # the user's code: the error names the declaration too
            mark_declared_at(exc, spec.loc)
            raise
        if not isinstance(model, nn.Module):
            raise FactoryError(f"factory {spec.factory}", f"it returned {type(model).__name__}, "
                               "not a torch.nn.Module", "return the model instance")
    elif spec.checkpoint is not None:
        model = _from_sidecar(spec.checkpoint)
    else:
        raise PatRuntimeError(f"model {spec.name}", "no primitive, factory or checkpoint given",
                              "say how to build the model")
    if getattr(model, "task", None) not in ("lm", "classify"):
        raise FactoryError(f"model {spec.name}", f"the model has task "
                              f"{getattr(model, 'task', None)!r}",
                              "set model.task = 'lm' (next-token) or 'classify' in the factory")
    if spec.checkpoint is not None:
        checkpoint.load_into(model, spec.checkpoint)
    return model.to(device)
