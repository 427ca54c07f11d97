"""Checkpoints: safetensors round trip, sidecar, weights_only torch files, pickled code refused."""

import json
import os

import pytest
import torch

from patternlang.errors import PatRuntimeError, UnsafeCheckpointError
from patternlang.models import AttnOnlyTransformer, ParensTransformer
from patternlang.models import checkpoint


def test_safetensors_round_trip_with_sidecar(tmp_path):
    m = ParensTransformer(d_model=16, n_layers=1, n_heads=2, d_mlp=8, context=10, seed=3)
    path = checkpoint.save(m, tmp_path / "ck" / "model.safetensors", {"step": 7, "seed": 3})
    state = checkpoint.load_state(path)
    assert state.keys() == m.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in m.state_dict().items())
    meta = json.loads((tmp_path / "ck" / "model.json").read_text())
    assert meta["meta"] == {"step": 7, "seed": 3} and meta["task"] == "classify"
    assert meta["config"]["d_model"] == 16
    fresh = ParensTransformer(d_model=16, n_layers=1, n_heads=2, d_mlp=8, context=10, seed=4)
    checkpoint.load_into(fresh, path)
    tokens = torch.tensor([[3, 1, 2, 0]])
    assert torch.equal(fresh(tokens), m(tokens))
    assert not [p for p in (tmp_path / "ck").iterdir() if p.name.endswith(".tmp")]


def test_weights_only_torch_files_load(tmp_path):
    m = AttnOnlyTransformer(vocab=8, d_model=8, n_layers=1, n_heads=2, context=4)
    torch.save(m.state_dict(), tmp_path / "a.pt")
    torch.save({"state_dict": m.state_dict(), "step": 3}, tmp_path / "b.pt")
    for name in ("a.pt", "b.pt"):
        state = checkpoint.load_state(tmp_path / name)
        assert all(torch.equal(state[k], v) for k, v in m.state_dict().items())


class _Payload:
    """Unpickling this would write a file: the attack a checkpoint loader must refuse."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (_write_marker, (self.target,))


def _write_marker(path):
    with open(path, "w") as f:
        f.write("pwned")
    return {}


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker.txt"
    bad = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": _Payload(str(marker))}, bad)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpointError) as info:
        checkpoint.load_state(bad)
    assert not marker.exists()
    assert "remedy" in str(info.value) and "safetensors" in info.value.remedy
    # sanity: the payload is real (an unrestricted load would have run it)
    torch.load(bad, weights_only=False)
    assert marker.read_text() == "pwned"


def test_whole_pickled_module_is_refused(tmp_path):
    m = AttnOnlyTransformer(vocab=8, d_model=8, n_layers=1, n_heads=2, context=4)
    torch.save(m, tmp_path / "module.pt")
    with pytest.raises(UnsafeCheckpointError):
        checkpoint.load_state(tmp_path / "module.pt")


def test_missing_corrupt_and_mismatched(tmp_path):
    with pytest.raises(PatRuntimeError, match="does not exist"):
        checkpoint.load_state(tmp_path / "nope.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(os.urandom(64))
    with pytest.raises(PatRuntimeError, match="not a valid safetensors"):
        checkpoint.load_state(tmp_path / "junk.safetensors")
    small = AttnOnlyTransformer(vocab=8, d_model=8, n_layers=1, n_heads=2, context=4)
    path = checkpoint.save(small, tmp_path / "small.safetensors")
    big = AttnOnlyTransformer(vocab=8, d_model=16, n_layers=1, n_heads=2, context=4)
    with pytest.raises(PatRuntimeError, match="does not fit"):
        checkpoint.load_into(big, path)
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(PatRuntimeError, match="not a dict of tensors"):
        checkpoint.load_state(tmp_path / "list.pt")
