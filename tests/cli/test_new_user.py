"""Issue 26, a new user's problem end to end: a tiny MLP on (a ± b) mod 13 built by a factory
module beside the spec (``new_user/modtask.py``), components ``add``, ``sub`` and ``memo``, and a
held-out set that is only measured.

Each test copies the factory under its own module name into a fresh folder that is not on
``sys.path`` and runs ``patc`` from another directory, as a user would."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from patternlang import cli

HERE = Path(__file__).with_name("new_user")

MIXTURE_ONLY = '''
model net = factory("MODULE:mlp", width=16)
data add = factory("MODULE:pairs", op="add")
data sub = factory("MODULE:pairs", op="sub")
data memo = factory("MODULE:pairs", op="memo")
mixture base = {add: 0.4, sub: 0.4, memo: 0.2}
train pretrain { model = net  data = base  steps = 4  batch = 16  checkpoints = [4] }
'''


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")


def user_folder(tmp_path: Path, module: str, spec: str) -> Path:
    """A folder holding the factory as ``module.py`` and the spec (``MODULE`` replaced)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / f"{module}.py").write_text((HERE / "modtask.py").read_text())
    path = folder / "modular.pat"
    path.write_text(spec.replace("MODULE", module))
    assert str(folder) not in sys.path
    return path


def patc(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_compile_imports_a_factory_beside_the_spec(capsys, tmp_path):
    spec = user_folder(tmp_path, "modtask_compile26", MIXTURE_ONLY)
    code, out, err = patc(capsys, "compile", str(spec))  # with timing: builds the model
    assert code == 0, err
    assert "modtask_compile26:mlp" in out and "No module named" not in err


def _results(out: Path) -> dict:
    import json
    return json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("kind", ["probe", "data"])
def test_a_held_out_probe_is_measured_end_to_end_and_never_weighted(capsys, tmp_path, kind):
    """``probe heldout`` (or a ``data`` component left out of the mixture, as the new user
    first wrote it): tracked in training, a target of the solve, measured by verification; the
    mixture, chi's columns, the solution and the weights tables hold only add, sub and memo."""
    text = (HERE / "modular.pat").read_text().replace("probe heldout", f"{kind} heldout")
    spec = user_folder(tmp_path, f"modtask_run26_{kind}", text)
    code, out, err = patc(capsys, "check", str(spec))
    assert code == 0, err
    run = tmp_path / "run"
    code, out, err = patc(capsys, "run", str(spec), "--out", str(run), "--device", "cpu", "--quiet")
    assert code == 0, err
    res = _results(run)
    assert res["susceptibilities"]["susceptibility.chi"]["components"] == ["add", "sub", "memo"]
    assert "loss(heldout)" in res["susceptibilities"]["susceptibility.chi"]["observables"]
    sol = res["solves"]["solve.generalise"]
    assert set(sol["final_weights"]) == {"add", "sub", "memo"} and "loss(heldout)" in sol["predicted"]
    assert "loss(heldout)" in res["tracked"]["train.pretrain"]["seeds"]["0"]
    assert "loss(heldout)" in str(res["verification"]["verify.generalise"])
    report = (run / "report.md").read_text()
    weights_rows = [ln for ln in report.splitlines() if ln.startswith("| heldout")]
    assert not weights_rows, weights_rows


def test_a_probe_is_kept_out_of_mixtures_statically(capsys, tmp_path):
    text = (HERE / "modular.pat").read_text().replace(
        "mixture base = {add: 0.4, sub: 0.4, memo: 0.2}",
        "mixture base = {add: 0.4, sub: 0.4, memo: 0.2, heldout: 0.1}")
    spec = user_folder(tmp_path, "modtask_mix26", text)
    code, _, err = patc(capsys, "check", str(spec))
    assert code == 2
    assert "modular.pat:11:" in err and "PAT305" in err and "'heldout' is a probe" in err


def test_a_failed_run_says_so_in_its_results_and_report(capsys, tmp_path, monkeypatch):
    """Item 4: after a run whose solve fails, results.json and report.md are not the previous
    run's: they name the failed step (also after ``patc report``), and the error says where the
    rejected solution was written."""
    from patternlang.errors import PatRuntimeError
    from patternlang.runtime.services import rows as solve_step

    text = (HERE / "modular.pat").read_text()
    spec = user_folder(tmp_path, "modtask_fail26", text)
    run = tmp_path / "run"
    assert patc(capsys, "run", str(spec), "--out", str(run), "--device", "cpu", "--quiet")[0] == 0
    assert "solve.generalise" in _results(run)["solves"]

    def unresolved(step, resolution):
        raise PatRuntimeError(step.id, "require resolved: target 'lower loss(heldout)' has "
                              "largest |z| = 1.2 < 3", "sample longer")

    monkeypatch.setattr(solve_step, "check_resolved", unresolved)
    spec.write_text(spec.read_text().replace("lower loss(heldout) by 0.05", "lower loss(heldout) by 0.06"))
    code, _, err = patc(capsys, "run", str(spec), "--out", str(run), "--device", "cpu", "--quiet")
    assert code == 1
    written = re.search(r"the rejected solution is in (\S+solution\.json)", err)
    assert written and Path(written.group(1)).is_file(), err
    res = _results(run)
    assert res["failed"]["step"] == "solve.generalise" and "solve.generalise" not in res["solves"]
    for _ in range(2):  # as the failed run left it, then re-rendered by `patc report`
        head = (run / "report.md").read_text().splitlines()[2]
        assert "failed: solve.generalise** (step 'solve.generalise' failed: require resolved" in head
        assert "not run: verify.generalise" in head and "not run: solve" not in head
        assert patc(capsys, "report", str(run))[0] == 0


def test_verify_trains_every_arm_with_another_model(capsys, tmp_path):
    """``verify { model = wide }``: chi on the width-16 MLP, every arm retrained at width 64."""
    text = (HERE / "modular.pat").read_text().replace(
        "verify generalise {", 'model wide = factory("MODULE:mlp", width=64)\n\nverify generalise {\n  model = wide')
    spec = user_folder(tmp_path, "modtask_transfer26", text)
    code, out, err = patc(capsys, "compile", str(spec), "--no-timing")
    assert code == 0 and "for 20 steps with model wide" in out, err
    run = tmp_path / "run"
    code, _, err = patc(capsys, "run", str(spec), "--out", str(run), "--device", "cpu", "--quiet")
    assert code == 0, err
    built = sys.modules["modtask_transfer26"].BUILT
    assert 16 in built and built.count(64) >= 2  # the contract check, then each arm (1 seed)
    arms = _results(run)["verification"]["verify.generalise"]["arms"]
    assert set(arms) == {"baseline", "patterned"}


def test_a_transfer_verify_trains_from_scratch(capsys, tmp_path):
    text = (HERE / "modular.pat").read_text().replace(
        "verify generalise {", 'model wide = factory("MODULE:mlp", width=64)\n\nverify generalise {\n  model = wide\n  start = pretrain.step(20)')
    spec = user_folder(tmp_path, "modtask_transfer26b", text)
    code, _, err = patc(capsys, "check", str(spec))
    assert code == 2 and "PAT310" in err and "trains it from scratch" in err


def test_two_typos_are_reported_at_once(capsys, tmp_path):
    """Item 7: a typo in the mixture used to hide a typo in the target (the patterning was
    skipped once its susceptibility was unusable)."""
    text = (HERE / "modular.pat").read_text().replace("{add: 0.4", "{ad: 0.4").replace(
        "lower loss(heldout)", "lower loss(heldot)")
    spec = user_folder(tmp_path, "modtask_typo26", text)
    code, _, err = patc(capsys, "check", str(spec))
    assert code == 2 and "unknown name 'ad'" in err and "unknown name 'heldot'" in err, err
    assert "2 errors found" in err


def test_an_error_in_a_data_factory_names_the_spec_line(capsys, tmp_path):
    """Item 7: the Python line of the failure and the declaration that asked for the call."""
    text = (HERE / "modular.pat").read_text().replace('op="sub")', 'op="sub", frac="x")')
    spec = user_folder(tmp_path, "modtask_ferr26", text)
    code, _, err = patc(capsys, "run", str(spec), "--out", str(tmp_path / "run"), "--device", "cpu",
                        "--quiet")
    assert code == 1 and "your code raised ValueError" in err
    assert "modtask_ferr26.py:" in err and f"asked for at {spec}:8:1" in err, err
