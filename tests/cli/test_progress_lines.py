"""Issue 26 item 5: a training's progress counts training steps (not "0/1" seeds for minutes),
and the console's lines carry no link into patternlang's own source."""

from __future__ import annotations

import io

from patternlang.api import run

SPEC = """model m = attn_only(layers=1, heads=1, d_model=8, context=8, vocab=8)
data u = uniform_tokens(vocab=8, length=8)
train t { model = m  data = u  steps = 6  batch = 2  seeds = 2 }
output { formats = [json] }
"""


class Recorder:
    def __init__(self) -> None:
        self.tasks: dict[str, list] = {}

    def task(self, label: str, total: int, unit: str = "it"):
        record = self.tasks.setdefault(label, [total, unit, 0])

        class _Task:
            def advance(self, n: int = 1) -> None:
                record[2] += n

            def close(self) -> None:
                pass

        return _Task()

    def info(self, message: str) -> None:
        pass


def test_training_progress_counts_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    spec = tmp_path / "p.pat"
    spec.write_text(SPEC)
    rec = Recorder()
    run(spec, tmp_path / "out", progress=rec, device="cpu")
    (label, (total, unit, done)), = [(k, v) for k, v in rec.tasks.items() if k.startswith("train.t")]
    assert (total, unit, done) == (12, "step", 12) and "2 seed(s) x 6 steps" in label


def test_console_lines_have_no_source_links(monkeypatch):
    import rich.console

    from patternlang.cli.run_commands import RichProgress

    out = io.StringIO()
    real = rich.console.Console
    monkeypatch.setattr(rich.console, "Console", lambda **kw: real(file=out, width=200))
    progress = RichProgress()
    try:
        progress.info("train.t: running")
    finally:
        progress.stop()
    text = out.getvalue()
    assert "train.t: running" in text and "run_commands.py" not in text
