"""Checkpoints that can never run code when loaded.

``save`` writes the model's parameters as safetensors (tensors only, no pickle) and a JSON sidecar
(``<stem>.json``) with the model's class, config, the primitive call that built it when known, and the
caller's ``meta`` (step, seed, losses, ...). Both files are written to an unguessable temporary name
and renamed into place (:func:`patternlang.atomic.atomic_write`), so a reader never sees half a
checkpoint, a planted link cannot redirect the write, and the files get the user's umask.

``load_state`` reads safetensors, or a PyTorch file with ``torch.load(weights_only=True)``, whose
unpickler only rebuilds tensors and plain containers. A file that would import and call anything else
(a pickled class with a ``__reduce__`` payload, a whole pickled ``nn.Module``) is refused with
:class:`~patternlang.errors.UnsafeCheckpointError` before any of its code runs.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from patternlang.atomic import atomic_write
from patternlang.errors import PatRuntimeError, UnsafeCheckpointError

_STEP = "load checkpoint"


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar beside a weights file: ``model.safetensors`` -> ``model.json``."""
    p = Path(path)
    return p.with_suffix(".json")


def _os_error(exc: Exception, path: Path) -> OSError | None:
    """The :class:`OSError` inside a safetensors error (``... (os error 28)``: a full disk), so
    that callers handle it like any failed write; None when it is not an I/O error."""
    import re

    found = re.search(r"os error (\d+)", str(exc))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code), str(path))


def _save_tensors(state: dict[str, Tensor], tmp: Path, path: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(state, str(tmp), metadata={"patternlang": "1"})
    except SafetensorError as exc:
        error = _os_error(exc, path)
        if error is None:
            raise
        raise error from exc


def save(model: nn.Module, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s state as safetensors at ``path`` plus a JSON sidecar; returns ``path``.

    Args:
        model: the module to save (its ``config`` and ``spec_call`` attributes, when present, go
            into the sidecar so the architecture can be rebuilt from the checkpoint alone).
        path: destination, conventionally ``*.safetensors``.
        meta: JSON-serialisable extras (training step, seed, loss, ...).

    Raises:
        OSError: the disk is full or the folder not writable (also when safetensors reports it).
        PatRuntimeError: ``path`` lies below a symbolic link inside a run directory.
    """
    path = Path(path)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    info = {"class": f"{type(model).__module__}.{type(model).__qualname__}",
            "task": getattr(model, "task", None), "config": getattr(model, "config", None),
            "call": getattr(model, "spec_call", None), "meta": meta or {}}
    text = json.dumps(info, indent=2, sort_keys=True, default=str)
    atomic_write(path, lambda tmp: _save_tensors(state, tmp, path))
    atomic_write(sidecar_path(path), lambda tmp: tmp.write_text(text))
    return path


def load_meta(path: str | Path) -> dict[str, Any]:
    """The sidecar of a checkpoint (``{}`` when there is none)."""
    side = sidecar_path(path)
    if not side.is_file() or side == Path(path):
        return {}
    return json.loads(side.read_text())


def _unsafe(path: Path, exc: Exception) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        _STEP,
        f"{path} is a pickle that would import or run code when loaded ({exc}); it was not loaded",
        "re-save only the weights from a trusted session: "
        "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') "
        "(or torch.save(model.state_dict(), 'model.pt'))")


def _load_torch(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _unsafe(path, exc) from None
    except Exception as exc:  # noqa: BLE001 - the unpickler fails in many ways on a non-checkpoint
        if isinstance(exc, PatRuntimeError):
            raise
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise _unsafe(path, exc) from None
        raise PatRuntimeError(_STEP, f"{path} is not a readable PyTorch checkpoint ({exc})",
                              "check that the file is complete and was written by torch.save") from exc


def _as_state(obj: Any, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
        if obj and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
            return dict(obj)
    raise PatRuntimeError(_STEP, f"{path} holds {type(obj).__name__}, not a dict of tensors",
                          "save model.state_dict() (a mapping from parameter names to tensors)")


def load_state(path: str | Path) -> dict[str, Tensor]:
    """Parameter tensors of a checkpoint, without ever executing code from the file.

    Raises:
        UnsafeCheckpointError: the file is a pickle that would import or run code.
        PatRuntimeError: the file is missing, unreadable, or holds no state dict.
    """
    p = Path(path)
    if not p.is_file():
        raise PatRuntimeError(_STEP, f"checkpoint {str(p)!r} does not exist",
                              "check the path, or train first")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            return load_file(str(p))
        except Exception as exc:  # safetensors raises its own error types for bad headers
            raise PatRuntimeError(_STEP, f"{p} is not a valid safetensors file ({exc})",
                                  "re-save it with safetensors.torch.save_file") from exc
    return _as_state(_load_torch(p), p)


def load_into(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a checkpoint's weights into ``model`` (strict), with a clear error on mismatch."""
    state = load_state(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    bad = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or bad:
        detail = "; ".join(s for s in (
            f"missing {missing[:5]}" if missing else "", f"unexpected {extra[:5]}" if extra else "",
            f"shape mismatch {[(k, tuple(state[k].shape), tuple(own[k].shape)) for k in bad[:3]]}"
            if bad else "") if s)
        raise PatRuntimeError(_STEP, f"checkpoint {path} does not fit the model: {detail}",
                              "build the model with the architecture the checkpoint was saved from")
    model.load_state_dict(state)
    return model
