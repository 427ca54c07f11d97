"""Issue 26 item 7, the smaller papercuts: patc stdlib's summary of zipf_tokens, chi_frame's z
column, the tracked table saying when it shows a subset of the steps, and the weights figure's
legend beside (not over) the bars."""

from __future__ import annotations

import json

import numpy as np
import pytest

from patternlang import cli


def test_stdlib_summarizes_zipf_tokens_in_a_sentence(capsys):
    assert cli.main(["stdlib"]) == 0
    out = capsys.readouterr().out.splitlines()
    summary = out[next(i for i, ln in enumerate(out) if "zipf_tokens(" in ln) + 1].strip()
    assert "Zipfian" in summary and summary != "I.i.d."


def test_chi_frame_has_z(tmp_path):
    pytest.importorskip("pandas")
    from patternlang.results import Results

    doc = {"schema": 2, "susceptibilities": {"susceptibility.chi": {
        "observables": ["o"], "components": ["a", "b"], "chi": [[0.6, -1.0]],
        "chi_se": [[0.2, 0.0]]}}}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    frame = Results.load(tmp_path).chi_frame()
    assert list(frame.columns) == ["observable", "component", "chi", "chi_se", "z"]
    assert frame["z"][0] == pytest.approx(3.0) and frame["z"].isna()[1]


def test_the_tracked_table_says_it_shows_some_steps():
    from patternlang.runtime.steps.train.section import tracked_lines
    from patternlang.runtime.training_types import Tracked

    steps = list(range(0, 130, 10))  # 13 evaluations
    tr = Tracked(steps=steps, seeds={"0": {"loss(heldout)": [float(s) for s in steps]}})
    head = tracked_lines(tr)[0]
    assert "(8 of the 13 evaluation steps, evenly spaced; all of them are in results.json" in head
    short = Tracked(steps=steps[:5], seeds={"0": {"x": [1.0] * 5}})
    assert "evaluation steps" not in tracked_lines(short)[0]


def test_the_weights_legend_does_not_cover_the_bars(tmp_path, monkeypatch):
    from patternlang.runtime import figures

    kept = {}
    real = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, path: kept.setdefault("fig", fig) and real(fig, path))
    # every bar near the top of the axes: no spot inside them is free for a legend
    figures.weights_comparison(["add", "sub", "memo", "mix"], [0.25, 0.25, 0.25, 0.25],
                               [0.24, 0.26, 0.25, 0.25], tmp_path / "w.png")
    fig = kept["fig"]
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    bars = [p.get_window_extent() for p in ax.patches]
    assert bars and not any(legend.overlaps(b) for b in bars)
    assert np.isfinite(legend.x0)


def test_a_rate_is_timed_by_its_fastest_block(monkeypatch):
    """Item 5: one slow stretch (another job, first-call work) no longer sets the compile
    estimate; a fake clock, no wall time."""
    from patternlang.runtime import rate

    clock = {"t": 0.0, "calls": 0}
    monkeypatch.setattr(rate.time, "perf_counter", lambda: clock["t"])

    def fn():  # 1 s per call for the warm-ups and the first two blocks (6 calls), then 10 ms
        clock["calls"] += 1
        clock["t"] += 1.0 if clock["calls"] <= 6 else 0.01

    assert rate._timed(fn, budget_s=0.5) == pytest.approx(0.01)
