"""The pieces of the distributed and GPU paths that run (and are checked) without a GPU."""

from __future__ import annotations

import pytest
import torch

from patternlang import cli
from patternlang.runtime import accel
from patternlang.runtime.distributed import Dist, launcher_args
from patternlang.runtime.options import RunOptions
from patternlang.runtime.services.sampling import chain_groups


def test_round_robin_units_cover_each_unit_once():
    units = list(range(11))
    shares = [Dist(r, 3).mine(units) for r in range(3)]
    assert shares[1] == [1, 4, 7, 10]
    assert sorted(u for s in shares for u in s) == units
    assert Dist().mine(units) == units and not Dist().active and Dist().is_main


def test_single_process_collectives_are_identities():
    d = Dist()
    assert d.broadcast({"a": 1}) == {"a": 1}
    assert d.gather(3) == [3]
    assert d.gather_dict({"x": 1}) == {"x": 1}


def test_launcher_args_local_rendezvous():
    options = RunOptions(device="cpu", autocast="bf16", chain_group=3)
    args = launcher_args(2, "s.pat", "out", options, resume=True, seed=5, search_path=["lib"],
                         port=29999, run_args=["--quiet"])
    assert args[args.index("--rdzv-endpoint") + 1] == "127.0.0.1:29999"
    assert args[args.index("--nproc-per-node") + 1] == "2"
    tail = args[args.index("-m"):]
    assert tail == ["-m", "patternlang", "-I", "lib", "run", "s.pat", "--out", "out", "--device",
                    "cpu", "--autocast", "bf16", "--chain-group", "3", "--resume", "--seed", "5",
                    "--quiet"]
    # every rank rebuilds exactly these options from its flags
    from patternlang.cli.run_commands import run as run_command

    ctx = run_command.make_context("run", tail[tail.index("run") + 1:])
    p = ctx.params
    assert RunOptions.from_env({}, device=p["device"], autocast=p["autocast"],
                               compile=p["compile_"], chain_group=p["chain_group"],
                               workers=p["workers"]) == options


def test_cpu_groups_do_not_depend_on_world():
    cpu = torch.device("cpu")
    assert chain_groups(5, cpu) == chain_groups(5, cpu, world=4) == [[0, 1], [2, 3], [4]]
    assert chain_groups(5, torch.device("cuda"), world=2, fixed=3) == [[0, 1, 2], [3, 4]]


def test_gpu_groups_from_free_memory():
    gpu = torch.device("cuda")
    assert chain_groups(8, gpu, per_chain_bytes=None) == [list(range(8))]
    # 1000 bytes free at 0.8 safety, 300 per chain -> 2 chains per group
    assert chain_groups(5, gpu, per_chain_bytes=300, free_bytes=1000) == [[0, 1], [2, 3], [4]]
    # two ranks: at most ceil(8 / 2) chains per group so both ranks get work
    assert chain_groups(8, gpu, world=2, per_chain_bytes=1, free_bytes=10**9) == [[0, 1, 2, 3],
                                                                                 [4, 5, 6, 7]]
    assert accel.chains_per_batch(100, 1000, 16) == 1  # never zero


def test_bf16_observation_context_and_wrapper(monkeypatch):
    a = torch.randn(4, 8)
    with accel.observation_precision(torch.device("cpu"), "bf16"):
        assert (a @ a.T).dtype == torch.bfloat16
    with accel.observation_precision(torch.device("cpu"), "tf32"):
        assert torch.get_float32_matmul_precision() == "high"
    assert torch.get_float32_matmul_precision() == "highest"

    class Obs:
        names = ("x",)

        def __call__(self, params):
            return params["w"] @ params["w"].T

    wrapped = accel.with_precision(Obs(), torch.device("cpu"), "bf16")
    assert wrapped({"w": a}).dtype == torch.bfloat16 and wrapped.names == ("x",)
    assert accel.with_precision(wrapped.inner, torch.device("cpu"), "off") is wrapped.inner
    monkeypatch.setenv("PATTERNLANG_AUTOCAST", "BF16")
    assert RunOptions.from_env().autocast == "bf16"
    assert RunOptions.from_env(autocast="off").autocast == "off"  # a flag beats the environment
    monkeypatch.setenv("PATTERNLANG_AUTOCAST", "fp8")
    with pytest.raises(Exception, match="PATTERNLANG_AUTOCAST"):
        RunOptions.from_env()


def test_compiled_model_keeps_names_and_values_under_vmap():
    from torch.func import functional_call, vmap

    from patternlang.models.attn_only import AttnOnlyTransformer

    torch.manual_seed(0)
    model = AttnOnlyTransformer(vocab=8, d_model=8, n_layers=1, n_heads=2, d_head=4, context=4)
    tokens = torch.randint(0, 8, (3, 4))
    names = [n for n, _ in model.named_parameters()]
    params = {k: torch.stack([v, v + 0.01]) for k, v in model.named_parameters()}
    call = lambda p: functional_call(model, p, (tokens,))  # noqa: E731
    plain = vmap(call)(params)
    accel.maybe_compile(model, backend="eager")
    assert [n for n, _ in model.named_parameters()] == names
    assert torch.allclose(vmap(call)(params), plain)


def test_nproc_inside_torchrun_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    code = cli.main(["run", "specs/quickstart.pat", "--nproc", "2", "--out", "/nonexistent/x"])
    assert code == 1
    assert "torchrun already started" in capsys.readouterr().err
