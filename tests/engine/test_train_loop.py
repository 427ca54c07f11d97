"""The trainer: determinism, learning, schedules, weighted losses, checkpoint and eval hooks."""

import math

import pytest
import torch

from patternlang.data import Mixture
from patternlang.data.parens import parens
from patternlang.data.synthetic import repeated_spans, uniform_tokens
from patternlang.engine.train import lr_factor, train
from patternlang.errors import PatRuntimeError
from patternlang.models import AttnOnlyTransformer, ParensTransformer
from patternlang.plan.ir import OptimizerSpec

torch.set_num_threads(1)


def _lm_mixture():
    return Mixture([repeated_spans(16, 12, 3).renamed("rep"), uniform_tokens(16, 12).renamed("uni")],
                   [0.75, 0.25])


def _model(seed=0):
    return AttnOnlyTransformer(vocab=16, d_model=32, n_layers=2, n_heads=2, context=12, seed=seed)


def test_reruns_are_bit_identical_and_seeds_differ():
    opt = OptimizerSpec(lr=3e-3, schedule="warmup_cosine", warmup=5)
    runs = []
    for seed in (0, 0, 1):
        m = _model()
        r = train(m, _lm_mixture(), 25, 16, opt, seed=seed)
        runs.append((r.loss, torch.cat([p.detach().flatten() for p in m.parameters()])))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_tiny_lm_learns_repeated_spans():
    m = _model()
    r = train(m, _lm_mixture(), 150, 32, OptimizerSpec(lr=1e-2), seed=0)
    rep = r.component_loss["rep"]
    uni = [x for x in r.component_loss["uni"] if not math.isnan(x)]
    assert sum(rep[-10:]) / 10 < 0.6 * sum(rep[:10]) / 10  # copying is learned
    assert sum(uni[-10:]) / 10 > math.log(16) - 0.15  # nothing beats the entropy of uniform tokens
    assert len(r.loss) == len(r.lr) == 150


def test_hooks_run_at_declared_steps():
    seen_ckpt, seen_eval = [], []
    r = train(_model(), _lm_mixture(), 10, 4, OptimizerSpec(), seed=0, checkpoints=[0, 4, 10],
              on_checkpoint=lambda s, m: seen_ckpt.append(s),
              on_eval=lambda s, m: seen_eval.append(s) or s * 2, eval_every=3)
    assert seen_ckpt == r.checkpoints == [0, 4, 10]
    assert seen_eval == [0, 3, 6, 9, 10] and r.evals[-1] == (10, 20)
    with pytest.raises(PatRuntimeError, match="outside"):
        train(_model(), _lm_mixture(), 10, 4, OptimizerSpec(), seed=0, checkpoints=[11])


def test_zero_loss_weight_component_is_not_learned():
    mix = Mixture([repeated_spans(16, 12, 3).renamed("rep"), uniform_tokens(16, 12).renamed("uni")],
                  [0.5, 0.5])
    r = train(_model(), mix, 120, 32, OptimizerSpec(lr=1e-2), seed=0,
              sample_weights={"rep": 0.0, "uni": 1.0})
    rep = r.component_loss["rep"]
    assert sum(rep[-10:]) / 10 > 0.9 * sum(rep[:10]) / 10  # copying is not learned


def test_per_sample_and_per_token_weights_match_the_weighted_average():
    m, mix = _model(), _lm_mixture()
    unit = train(_model(), mix, 3, 8, OptimizerSpec(), seed=0)
    same = train(m, mix, 3, 8, OptimizerSpec(), seed=0,
                 sample_weights=lambda b, i: torch.full((b["tokens"].shape[0],), 5.0))
    assert unit.loss == pytest.approx(same.loss, rel=1e-6)
    tok = train(_model(), mix, 3, 8, OptimizerSpec(), seed=0,
                sample_weights=lambda b, i: torch.ones(b["tokens"].shape[0], 11))
    assert unit.loss == pytest.approx(tok.loss, rel=1e-5)
    with pytest.raises(PatRuntimeError, match="weights"):
        train(_model(), mix, 1, 8, OptimizerSpec(), seed=0, sample_weights=lambda b, i: torch.ones(3))


def test_schedules():
    assert lr_factor("constant", 7, 10) == 1.0
    assert lr_factor("linear", 5, 10) == pytest.approx(0.5)
    assert lr_factor("cosine", 0, 10) == 1.0 and lr_factor("cosine", 5, 10) == pytest.approx(0.5)
    assert [lr_factor("warmup_cosine", s, 10, warmup=4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    r = train(_model(), _lm_mixture(), 4, 4, OptimizerSpec(lr=0.1, schedule="linear"), seed=0)
    assert r.lr == pytest.approx([0.1, 0.075, 0.05, 0.025])


def test_sgd_and_adam_and_task_mismatch():
    for name in ("sgd", "adam"):
        r = train(_model(), _lm_mixture(), 3, 4, OptimizerSpec(name=name, lr=1e-2), seed=0)
        assert len(r.loss) == 3
    cls_mix = Mixture([parens(2, 6, 0, "any", 1, 8), parens(2, 6, 0, "any", 0, 8)], [0.5, 0.5])
    with pytest.raises(PatRuntimeError, match="task"):
        train(_model(), cls_mix, 1, 4, OptimizerSpec(), seed=0)
    with pytest.raises(PatRuntimeError, match="vocab"):
        train(AttnOnlyTransformer(vocab=8, d_model=8, n_layers=1, n_heads=1, context=12),
              _lm_mixture(), 1, 4, OptimizerSpec(), seed=0)


def test_parens_classifier_trains():
    mix = Mixture([parens(2, 8, 0, "any", 1, 10), parens(2, 8, 0, "any", 0, 10)], [0.5, 0.5])
    m = ParensTransformer(d_model=16, n_layers=1, n_heads=2, d_mlp=16, context=10, seed=0)
    r = train(m, mix, 150, 32, OptimizerSpec(lr=1e-2), seed=0)
    assert sum(r.loss[-10:]) / 10 < 0.3 < sum(r.loss[:10]) / 10
