"""``patc check``, ``patc compile`` and ``patc stdlib``: the front end's commands."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from patternlang.cli.base import handle_errors, main_group
from patternlang.errors import PatSpecError


@main_group.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.pass_context
@handle_errors
def check(ctx: click.Context, specs: tuple[str, ...]) -> None:
    """Check SPEC files; print every problem found."""
    from patternlang.compiler import compile_file

    failed: list[PatSpecError] = []
    for spec in specs:
        try:
            show_warnings(compile_file(spec, ctx.obj["search_path"]))
            click.echo(f"{spec}: ok")
        except PatSpecError as exc:
            failed.append(exc)
    if failed:
        diags = [d for exc in failed for d in exc.diagnostics]
        sources = {k: v for exc in failed for k, v in exc.sources.items()}
        raise PatSpecError(diags, sources)


@main_group.command(name="compile")
@click.argument("spec", type=click.Path())
@click.option("--emit", type=click.Choice(["plan", "json", "ast"]), default="plan", show_default=True,
              help="plan: the step tree with costs; json: the plan as JSON; ast: the syntax tree.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--no-timing", is_flag=True,
              help="Skip measuring this machine's rate (about a second per model); costs stay in passes.")
@click.pass_context
@handle_errors
def compile_cmd(ctx: click.Context, spec: str, emit: str, output: str | None, no_timing: bool) -> None:
    """Compile SPEC to an execution plan (nothing runs but a short timing of each model)."""
    from patternlang import compiler
    from patternlang.compiler.explain import explain

    if emit == "ast":
        text = json.dumps(_ast_json(compiler.parse_file(spec)), indent=2)
    else:
        plan = compiler.compile_file(spec, ctx.obj["search_path"])
        if emit == "json":
            show_warnings(plan)
            text = plan.to_json()
        else:
            from patternlang.runtime.rate import measure_rates

            rates = None if no_timing else measure_rates(plan)
            show_warnings(plan, rates)
            text = explain(plan, rates)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


def show_warnings(plan, rates: dict | None = None) -> None:
    """Print the plan's cost warnings (PAT330) on stderr; they never change the exit code."""
    import sys

    from patternlang.compiler.limits import cost_warnings
    from patternlang.diagnostics_render import render

    for d in cost_warnings(plan, rates):
        click.echo(render(d, _sources(d), sys.stderr.isatty()) + "\n", err=True)


def _sources(d) -> dict[str, str]:
    try:
        return {d.span.file: Path(d.span.file).read_text(encoding="utf-8")} if d.span else {}
    except (OSError, UnicodeDecodeError):
        return {}


@main_group.command()
@click.argument("name", required=False)
@handle_errors
def stdlib(name: str | None) -> None:
    """List the stdlib modules, or the documented definitions of one (e.g. `patc stdlib lm`)."""
    from patternlang.stdlib_docs import describe_module, list_modules

    click.echo(describe_module(name) if name else list_modules())


def _ast_json(node: Any) -> Any:
    if dataclasses.is_dataclass(node):
        out = {"node": type(node).__name__}
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            out[f.name] = str(v) if f.name.endswith("span") and v is not None else _ast_json(v)
        return out
    if isinstance(node, (list, tuple)):
        return [_ast_json(x) for x in node]
    return node
