"""The run directory as a hostile user leaves it (issue 14, items 2, 3, 7, 8, 10): `--out` into
someone else's directory, damaged or edited step files, crafted step ids, symlinks out, umask."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from patternlang import cli

FAST = Path(__file__).with_name("fast.pat")


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def patc(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    return code, capsys.readouterr().err


def numbers(out: Path) -> dict:
    r = json.loads((out / "results.json").read_text())
    return {k: r[k] for k in ("llc", "susceptibilities", "solves")} | {
        "verification": {k: v["arms"] for k, v in r["verification"].items()}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    assert cli.main(["run", str(FAST), "--out", str(out), "--quiet", "--device", "cpu"]) == 0
    return out, numbers(out)


def run(capsys, out: Path, *extra: str) -> tuple[int, str]:
    return patc(capsys, "run", str(FAST), "--out", str(out), "--device", "cpu", *extra)


def test_out_refuses_a_foreign_non_empty_directory(capsys, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "report.md").write_text("my notes\n")
    code, err = run(capsys, theirs, "--quiet")
    assert code == 2 and "not a patternlang run directory" in err and "--force" in err
    assert (theirs / "report.md").read_text() == "my notes\n" and not (theirs / "steps").exists()
    code, err = run(capsys, theirs, "--quiet", "--force")
    assert code == 0, err
    code, err = run(capsys, theirs, "--quiet")  # now it is a run directory: no --force needed
    assert code == 0, err


def test_an_edited_file_is_found_and_its_step_recomputed(capsys, reference, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    moments = next(out.glob("steps/sample-chi-*/**/moments.npz"))
    data = dict(np.load(moments))
    key = next(iter(data))
    data[key] = data[key] * 2 + 1  # a valid .npz with other numbers
    np.savez(moments, **data)
    code, err = run(capsys, out, "--resume")
    assert code == 0, err
    assert "was altered" in err and "recomputing" in err and "moments.npz" in err
    assert numbers(out) == reference[1]
    assert list(out.glob("steps/.damaged/sample-chi-*"))  # kept for inspection


@pytest.mark.parametrize("damage", ["empty_done", "truncated_checkpoint", "missing_file"])
def test_a_corrupt_step_is_recomputed_and_never_blocks_the_others(capsys, reference, tmp_path,
                                                                  damage):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    if damage == "empty_done":
        target = next(out.glob("steps/susceptibility-chi-*/done.json"))
        target.write_text("")
    elif damage == "truncated_checkpoint":
        target = next(out.glob("steps/train-pretrain-*/**/*.safetensors"))
        target.write_bytes(target.read_bytes()[:100])
    else:
        target = next(out.glob("steps/solve-accelerate-*/*.json"))
        target.unlink()
    code, err = run(capsys, out, "--resume")
    assert code == 0, err
    assert "recomputing" in err and "Traceback" not in err
    assert numbers(out) == reference[1]


def test_crafted_step_ids_and_symlinks_stay_inside_the_run_directory(capsys, reference, tmp_path):
    import shutil

    out = tmp_path / "run" / "out"
    shutil.copytree(reference[0], out)
    evil = "sample.chi/../../../victim/evil"
    plan = json.loads((out / "plan.json").read_text().replace('"sample.chi"', json.dumps(evil)))
    plan["steps"][-1]["formats"] = ["md", "json"]  # figures too
    (out / "plan.json").write_text(json.dumps(plan))
    sample = next(out.glob("steps/sample-chi-*"))  # where the crafted id's step directory is
    sample.rename(sample.with_name(sample.name.replace("sample-chi", "sample-chi_--_--_--_victim_evil")))
    code, err = patc(capsys, "report", str(out))
    assert code == 0, err
    assert "LLC and sampler: `sample.chi/../../../victim/evil`" in (out / "report.md").read_text()
    assert not (tmp_path / "victim").exists() and not (tmp_path / "run" / "victim").exists()
    assert list((out / "figures").glob("traces-*victim_evil.png"))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (out / "figures").mkdir(exist_ok=True)
    shutil.rmtree(out / "figures")
    (out / "figures").symlink_to(outside)
    code, err = patc(capsys, "report", str(out))
    assert code == 1 and "outside the run directory" in err and "figures" in err
    assert not list(outside.iterdir())


def test_files_get_the_users_umask(capsys, tmp_path):
    old = os.umask(0o022)
    try:
        code, err = run(capsys, tmp_path / "out", "--quiet")
    finally:
        os.umask(old)
    assert code == 0, err
    checkpoints = [p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.safetensors")]
    assert checkpoints  # issue 27 item 9: these were 0600
    for name in ("results.json", "plan.json", *checkpoints):
        mode = stat.S_IMODE((tmp_path / "out" / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


def test_a_read_only_out_is_exit_1_with_a_remedy(capsys, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code, err = run(capsys, ro / "out", "--quiet")
    assert code in (1, 2) and "Traceback" not in err and "internal error" not in err


# --- issue 27: links inside the run directory, planted temporaries, tampered summaries ---------


def _tree(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in d.rglob("*") if p.is_file()}


@pytest.mark.parametrize("where", ["steps/train-pretrain-*", "runs/*"])
@pytest.mark.parametrize("resume", [True, False])
def test_a_link_inside_the_run_directory_is_never_written_through(capsys, reference, tmp_path,
                                                                   where, resume):
    """Item 2: `seed0` of an interrupted train step or of a verification run replaced by a link to
    an outside folder: patc never writes there. A write below the link is refused with exit 1
    naming it; without --resume an unfinished step directory is cleared (the link with it)."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("precious\n")
    seed = next(out.glob(f"{where}/seed0"))
    shutil.rmtree(seed)
    seed.symlink_to(outside, target_is_directory=True)
    if where == "runs/*":  # verification runs again (and finds its run damaged)
        shutil.rmtree(next(out.glob("steps/verify-*")))
    else:  # the train step was interrupted before its seed was sealed
        for done in out.glob(f"{where}/**/done.json"):
            done.unlink()
    code, err = run(capsys, out, "--quiet", *(["--resume"] if resume else []))
    assert _tree(outside) == {"mine.txt": b"precious\n"}
    assert "Traceback" not in err and "internal error" not in err
    if where == "runs/*" or resume:
        assert code == 1 and "symbolic link" in err and "seed0" in err, err
    else:
        assert code == 0, err
        assert numbers(out) == reference[1]


def test_links_planted_at_the_old_temporary_names_change_nothing(capsys, reference, tmp_path):
    """Item 3: checkpoints and χ used predictable temporaries (`.step8.safetensors.<pid>.tmp`,
    `chi.npz.tmp.npz`): a link there overwrote an outside file and was sealed as the result."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    train = next(out.glob("steps/train-pretrain-*"))
    chi = next(out.glob("steps/susceptibility-chi-*"))
    for f in [train / "done.json", train / "parts" / "seed0" / "done.json", chi / "done.json",
              *train.glob("seed0/*"), *chi.glob("*")]:
        f.unlink(missing_ok=True)
    pid = os.getpid()  # cli.main runs in this process
    planted = [train / "seed0" / f".step8.safetensors.{pid}.tmp",
               train / "seed0" / f".step8.json.{pid}.tmp", chi / "chi.npz.tmp.npz",
               chi / "chi.json.tmp"]
    for link in planted:
        link.symlink_to(victim)
    code, err = run(capsys, out, "--quiet", "--resume")
    assert victim.read_text() == "precious\n"
    # a stray link in a step directory is not sealed as part of the step: said, exit 1
    assert code == 1 and "chi.npz.tmp.npz is a symbolic link" in err and "remove the link" in err
    for link in planted:
        link.unlink(missing_ok=True)
    code, err = run(capsys, out, "--quiet", "--resume")
    assert code == 0, err
    assert numbers(out) == reference[1]
    for d in (train, chi):
        record = json.loads((d / "done.json").read_text())
        assert not [rel for rel in record["files"] if (d / rel).is_symlink()]


def test_sealing_refuses_files_reached_through_a_link(tmp_path):
    from patternlang.errors import PatRuntimeError
    from patternlang.runtime.rundir import damage, seal

    unit, outside = tmp_path / "unit", tmp_path / "outside"
    unit.mkdir(), outside.mkdir()
    (outside / "w.bin").write_bytes(b"x")
    (unit / "seed0").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PatRuntimeError, match="symbolic link"):
        seal(unit, {}, files=[unit / "seed0" / "w.bin"])
    (unit / "done.json").write_text(json.dumps({"summary": {}, "files": {"seed0/w.bin": "0"}}))
    assert damage(unit) is not None


def _sample_done(out: Path) -> Path:
    return next(out.glob("steps/sample-chi-*/done.json"))


@pytest.mark.parametrize("edit", ["llc_mean", "list_for_map", "unknown_component", "shape"])
def test_an_edited_summary_is_found_moved_aside_and_recomputed(capsys, reference, tmp_path, edit):
    """Item 4: done.json summaries are covered by the integrity hash: an edited LLC never reaches
    results.json, and a damaged summary is never exit 70 (neither at run nor at report)."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    done = _sample_done(out) if edit in ("llc_mean", "list_for_map") else \
        next(out.glob("steps/susceptibility-chi-*/done.json"))
    record = json.loads(done.read_text())
    summary = record["summary"]
    if edit == "llc_mean":
        summary["llc_mean"] = 999.25
    elif edit == "list_for_map":
        summary["centers"] = {"oops": [1, 2]}
    elif edit == "unknown_component":
        summary["components"] = ["nonexistent", *summary["components"][1:]]
    else:
        summary["chi"] = [[1.0]]
    done.write_text(json.dumps(record))
    code, err = patc(capsys, "report", str(out))
    assert code == 0, err
    assert "999.25" not in (out / "results.json").read_text()
    code, err = run(capsys, out)
    assert code == 0, err
    assert "summary was edited" in err and "recomputing" in err
    assert numbers(out) == reference[1]
    assert list(out.glob("steps/.damaged/*"))


def test_report_refuses_a_folder_that_is_not_a_run_directory(capsys, tmp_path):
    """Item 5: `patc report DIR` wrote report.md, results.json, steps/ and figures/ into any folder."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "report.md").write_text("my notes\n")
    (theirs / "results.json").write_text('{"mine": 1}\n')
    code, err = patc(capsys, "report", str(theirs))
    assert code == 2 and "not a patternlang run directory" in err, err
    assert sorted(p.name for p in theirs.iterdir()) == ["report.md", "results.json"]
    assert (theirs / "report.md").read_text() == "my notes\n"
    assert (theirs / "results.json").read_text() == '{"mine": 1}\n'


def test_another_spec_in_a_run_directory_is_said_and_its_modules_are_kept(capsys, tmp_path):
    """Item 9: a run directory of one spec silently took another spec's run (its spec/ replaced);
    modules the spec uses were never copied into spec/."""
    import shutil

    here = tmp_path / "exp"
    (here / "lib").mkdir(parents=True)
    (here / "lib" / "shared.pat").write_text("# shared definitions\n")
    text = FAST.read_text().replace("use stdlib.core\n", "use stdlib.core\nuse lib.shared\n")
    first, second = here / "first.pat", here / "second.pat"
    first.write_text(text)
    shutil.copy(first, second)
    out = tmp_path / "out"
    code, err = patc(capsys, "run", str(first), "--out", str(out), "--device", "cpu", "--quiet")
    assert code == 0, err
    assert sorted(str(p.relative_to(out / "spec")) for p in (out / "spec").rglob("*.pat")) == \
        ["first.pat", "lib/shared.pat"]
    code, err = patc(capsys, "run", str(second), "--out", str(out), "--device", "cpu")
    assert code == 0, err
    assert f"held runs of {first}" in err and str(second) in err
    events = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [e["before"] for e in events if e["event"] == "spec_changed"] == [str(first)]
    assert sorted(str(p.relative_to(out / "spec")) for p in (out / "spec").rglob("*.pat")) == \
        ["lib/shared.pat", "second.pat"]
    assert json.loads((out / ".patternlang-run").read_text())["spec"] == str(second)


def test_a_second_run_into_the_same_directory_is_refused_while_the_first_runs(capsys, tmp_path):
    """Item 9: two `patc run` into one --out took no lock."""
    import fcntl

    LOCK = ".patternlang-lock"  # patternlang.runtime.claim.LOCK
    out = tmp_path / "out"
    code, err = run(capsys, out, "--quiet")
    assert code == 0, err
    ready, release = os.pipe(), os.pipe()
    pid = os.fork()
    if pid == 0:  # another process holding the lock, as a running `patc run` does
        fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242", 0)
        os.ftruncate(fd, 4)
        os.write(ready[1], b"1")  # holding it now
        os.read(release[0], 1)  # until the test is done (or gone: EOF)
        os._exit(0)
    try:
        assert os.read(ready[0], 1) == b"1"  # the child holds the lock: no polling, no time limit
        code, err = run(capsys, out, "--quiet")
        assert code == 2 and "another patc run (pid 4242)" in err, err
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        for fd in (*ready, *release):
            os.close(fd)
    code, err = run(capsys, out, "--quiet")  # the holder is gone: the lock went with it
    assert code == 0, err
