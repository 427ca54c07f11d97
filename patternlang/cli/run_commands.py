"""``patc run`` and ``patc report``: the runtime's commands (thin: flags -> library -> render)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from patternlang.cli.base import handle_errors, main_group


class RichProgress:
    """Rich progress bars with rates and ETA (only on a terminal; plain lines otherwise)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task) -> Text:
                return Text(f"{task.speed:.1f}/s" if task.speed else "", style="progress.data.speed")

        self.console = Console(stderr=True)
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             RateColumn(),
                             TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
                             transient=False)
        self.bars.start()

    def task(self, label: str, total: int, unit: str = "it"):
        tid = self.bars.add_task(f"{label} [{unit}]", total=total)
        bars = self.bars

        class _Task:
            def advance(self, n: int = 1) -> None:
                bars.advance(tid, n)

            def close(self) -> None:
                bars.update(tid, completed=bars.tasks[tid].total)

        return _Task()

    def info(self, message: str) -> None:
        self.bars.console.print(message)  # print, not log: no time and no link to this file

    def stop(self) -> None:
        self.bars.stop()


def _progress(quiet: bool, log: str):
    from patternlang.runtime.progress import JsonLinesProgress, NullProgress

    if quiet:
        return NullProgress()
    if log == "json" or not sys.stderr.isatty():
        return JsonLinesProgress() if log == "json" else _PlainProgress()
    return RichProgress()


class _PlainProgress:
    """Line-oriented progress for logs and pipes: one line per step start and per finished task."""

    def task(self, label: str, total: int, unit: str = "it"):
        import time

        t0 = time.time()

        class _Task:
            done = 0

            def advance(self, n: int = 1) -> None:
                self.done += n

            def close(self) -> None:
                dt = time.time() - t0
                click.echo(f"  {label}: {self.done}/{total} {unit} in {dt:.1f}s", err=True)

        return _Task()

    def info(self, message: str) -> None:
        click.echo(message, err=True)


@main_group.command()
@click.argument("spec", type=click.Path())
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Run directory (default: runs/<spec name>).")
@click.option("--resume", is_flag=True, help="Continue partially completed steps of an interrupted run.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:i].")
@click.option("--seed", type=int, default=None, help="Override the plan seed (changes every hash).")
@click.option("--nproc", type=int, default=1, show_default=True,
              help="Processes for chains and verification runs (torch.distributed, gloo on CPU).")
@click.option("--autocast", type=click.Choice(["off", "bf16", "tf32"]), default=None,
              help="Observation precision (default off = float32; also $PATTERNLANG_AUTOCAST).")
@click.option("--compile", "compile_", is_flag=False, flag_value="inductor", default=None,
              metavar="[BACKEND]", help="torch.compile the model (backend inductor unless named; "
              "also $PATTERNLANG_COMPILE).")
@click.option("--chain-group", type=click.IntRange(min=1), default=None,
              help="Chains per batched sampler call (default 2 on CPU, what fits on a GPU; also "
              "$PATTERNLANG_CHAIN_GROUP).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for verification runs (default 2 on a single-process CPU run; "
              "also $PATTERNLANG_WORKERS).")
@click.option("--force", is_flag=True, help="Write into --out even if it is a non-empty directory "
              "that patc did not create (its report.md, results.json, ... may be replaced).")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--log", type=click.Choice(["rich", "json"]), default="rich",
              help="Progress as rich bars (terminal) or JSON lines on stderr.")
@click.pass_context
@handle_errors
def run(ctx: click.Context, spec: str, out: str | None, resume: bool, device: str,
        seed: int | None, nproc: int, autocast: str | None, compile_: str | None,
        chain_group: int | None, workers: int | None, force: bool, quiet: bool, log: str) -> None:
    """Compile SPEC and execute its plan into a run directory."""
    import os

    from patternlang.api import run as api_run
    from patternlang.cli.spec_commands import show_warnings
    from patternlang.errors import PatRuntimeError
    from patternlang.runtime.distributed import env_world, launch
    from patternlang.runtime.options import RunOptions
    from patternlang.runtime.claim import claim

    out = out or str(Path("runs") / Path(spec).stem)
    options = RunOptions.from_env(device=device, autocast=autocast, compile=compile_,
                                  chain_group=chain_group, workers=workers)
    if nproc > 1:
        if env_world() > 1:
            raise PatRuntimeError("setup", "--nproc inside a torchrun job", "drop --nproc: torchrun "
                                  "already started the processes")
        flags = ["--quiet"] if quiet else ["--log", log] if log != "rich" else []
        flags += ["--force"] if force else []
        claim(out, force)  # before the ranks start, so they find a run directory
        ctx.exit(launch(nproc, spec, out, options, resume=resume, seed=seed,
                        search_path=ctx.obj["search_path"], run_args=flags))
    quiet = quiet or int(os.environ.get("RANK", "0")) > 0  # rank 0 reports for the group
    progress = _progress(quiet, log)
    def on_plan(plan) -> None:
        show_warnings(plan)
        steps = [s.id for s in plan.steps]
        click.echo(f"{spec}: {len(steps)} steps ({', '.join(steps)}) -> {out}", err=True)

    try:
        results = api_run(spec, out, resume=resume, options=options, seed=seed,
                          progress=progress, search_path=ctx.obj["search_path"], force=force,
                          on_plan=None if quiet else on_plan)
    finally:
        if isinstance(progress, RichProgress):
            progress.stop()
    if not quiet:
        click.echo(results.headline)
        click.echo(f"results: {Path(out) / 'results.json'}\nreport:  {Path(out) / 'report.md'}")


@main_group.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@handle_errors
def report(run_dir: str) -> None:
    """Re-render results.json, figures and report.md of RUN_DIR."""
    from patternlang.errors import PatUsageError
    from patternlang.runtime.report import render
    from patternlang.runtime.rundir import is_run_dir

    if not is_run_dir(Path(run_dir)):  # checked before anything is written there
        raise PatUsageError(f"{run_dir} is not a patternlang run directory (no .patternlang-run "
                            "marker); `patc report` would overwrite its report.md and "
                            "results.json.\n  remedy: give the --out directory of a `patc run`")
    click.echo(f"wrote {render(run_dir)}")
