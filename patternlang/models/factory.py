"""Build models from a :class:`~patternlang.plan.ir.ModelSpec`: a registered primitive, a Python
factory (``"package.module:function"``), and/or checkpoint weights.

A factory is user code the plan will import and run; ``patc compile`` lists every factory before
anything runs (``Plan.factories``). Errors name the factory and say what to fix.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from patternlang import registry
from patternlang.errors import PatRuntimeError, mark_declared_at
from patternlang.models import checkpoint
from patternlang.plan.ir import ModelSpec


class FactoryError(PatRuntimeError):
    """A Python factory named in a spec cannot be imported or called."""


#: folders of the specs being compiled or run (:func:`look_beside`): where a factory's module is
#: looked for when no installed package provides it
_SPEC_FOLDERS: list[Path] = []


def look_beside(spec: str | Path) -> None:
    """Let factories name a module that sits beside ``spec`` (``factory("modtask:mlp")`` finds
    ``modtask.py`` in the spec's folder). Only the named module is taken from there, and only
    when it is not importable otherwise: installed packages come first, and nothing else in the
    folder can shadow them. ``patc compile`` (its timing) and ``patc run`` both call this."""
    if str(spec).startswith("<"):
        return
    folder = Path(spec).resolve().parent
    if folder not in _SPEC_FOLDERS:
        _SPEC_FOLDERS.append(folder)


def _import_beside(mod_name: str) -> Any:
    """``mod_name`` imported from a spec's folder (its top-level module or package found only
    there, then the rest of the dotted name inside it), or None when no spec folder holds it."""
    top = mod_name.split(".")[0]
    for folder in _SPEC_FOLDERS:
        found = importlib.machinery.PathFinder.find_spec(top, [str(folder)])
        if found is None or found.loader is None:
            continue
        module = importlib.util.module_from_spec(found)
        sys.modules[top] = module
        try:
            found.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(top, None)
            raise
        return importlib.import_module(mod_name)
    return None


def _import(mod_name: str) -> Any:
    """Installed packages (``sys.path``) first, then the spec folders."""
    try:
        return importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        if exc.name != mod_name.split(".")[0]:
            raise  # the module exists but something it imports does not
        module = _import_beside(mod_name)
        if module is None:
            raise
        return module


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
    try:
        module = _import(mod_name)
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
