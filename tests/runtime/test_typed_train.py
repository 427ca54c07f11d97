"""The typed hand-offs of training and verification keep the JSON of their files.

``train_one`` returns a :class:`TrainRun`; the train step writes it as ``seed<s>/curve.json`` and
verification as each run's ``run.json``, in the shape those files had when they were plain dicts,
so a run directory written before reads back (and resumes) unchanged. A verification run is a
:class:`VerifyJob`, which worker processes receive pickled.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from patternlang.runtime.rundir import read_json, to_json
from patternlang.runtime.training_types import Curve, TrainRun

#: a ``run.json`` as the dict-returning ``train_one`` wrote it
OLD = {"checkpoints": {"20": "seed0/step20.safetensors"}, "loss": [2.5, 2.25, None],
       "curve": {"step": [10, 20], "values": [{"ih[l0h0]": 0.1, "loss(reps)": None},
                                              {"ih[l0h0]": 0.5, "loss(reps)": 1.5}]}}


def test_an_old_run_json_reads_back_and_writes_the_same_text():
    run = TrainRun.model_validate(json.loads(json.dumps(OLD)))
    assert run.checkpoint(20) == "seed0/step20.safetensors"
    assert run.curve.coordinates() == ["ih[l0h0]", "loss(reps)"]
    assert run.curve.series("ih[l0h0]") == [0.1, 0.5]
    assert to_json(run.model_dump()) == to_json(OLD)


def test_nan_is_written_as_null_as_before(tmp_path: Path):
    curve = Curve()
    curve.add(10, {"x": float("nan")})
    run = TrainRun(checkpoints={}, loss=[float("nan")], curve=curve)
    (tmp_path / "run.json").write_text(to_json(run.model_dump()))
    back = TrainRun.model_validate(read_json(tmp_path / "run.json"))
    assert back.loss == [None] and back.curve.values == [{"x": None}]


def test_a_misspelled_key_is_an_error_not_a_default():
    with pytest.raises(ValidationError):
        TrainRun.model_validate({**OLD, "curves": OLD["curve"]})


def test_a_verify_job_travels_to_a_worker(tmp_path: Path):
    from patternlang.compiler import compile_file
    from patternlang.plan.ir import TrainStep
    from patternlang.runtime.steps.verify.jobs import VerifyJob

    from .tiny import write_spec

    plan = compile_file(str(write_spec(tmp_path)))
    train = next(s for s in plan.steps if isinstance(s, TrainStep))
    job = VerifyJob(name="baseline-s0", arm="baseline", seed=0, weights={"reps": 0.3, "noise": 0.7},
                    train=train, steps=20, every=10, track=list(train.track), init_path=None,
                    run_dir=tmp_path / "runs" / "k", device="cpu", plan_seed=0)
    again = pickle.loads(pickle.dumps(job))
    assert again == job and again.result_file == tmp_path / "runs" / "k" / "run.json"
    with pytest.raises(AttributeError):
        job.seed = 1  # type: ignore[misc]
