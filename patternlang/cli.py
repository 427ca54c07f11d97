"""``patc``: the command line. Thin: parse flags, call the library, render, choose the exit code.

Exit codes: 0 ok; 2 a spec or usage error (diagnostics printed, never a traceback); 1 a runtime
failure (:class:`~patternlang.errors.PatRuntimeError`); 70 an internal error (a bug: a banner asks
for a report; ``--debug`` shows the traceback).

Commands are plain functions registered on the :data:`main` group, so another module adds one with
``@main.command()`` (``patc run`` / ``patc report`` live with the runtime).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click

from patternlang import __version__
from patternlang.errors import PatError, PatSpecError
from patternlang.diagnostics_render import render_all

EXIT_OK, EXIT_RUNTIME, EXIT_SPEC, EXIT_INTERNAL = 0, 1, 2, 70
_BANNER = ("internal error: this is a bug in patternlang, not in your spec.\n"
           "Please report it with the spec and this message "
           "(run again with --debug for the traceback).")


def _color(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Map exceptions to messages and exit codes (shared by every command)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = ctx.find_root().params.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except PatSpecError as exc:
            click.echo(render_all(exc.diagnostics, exc.sources, _color(sys.stderr)), err=True)
            ctx.exit(EXIT_SPEC)
        except PatError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception:  # noqa: BLE001 - the one place that turns bugs into a banner
            if debug:
                traceback.print_exc()
            click.echo(_BANNER, err=True)
            ctx.exit(EXIT_INTERNAL)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="patc")
@click.option("--debug", is_flag=True, help="Show Python tracebacks of internal errors.")
@click.option("-I", "--path", "search_path", multiple=True, type=click.Path(file_okay=False),
              help="Extra directory to search for `use` modules (also $PATTERNLANG_PATH).")
@click.pass_context
def main_group(ctx: click.Context, debug: bool, search_path: tuple[str, ...]) -> None:
    """patc: check, compile and run patterning specs (.pat)."""
    ctx.obj = {"search_path": list(search_path)}


@main_group.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path())
@click.pass_context
@handle_errors
def check(ctx: click.Context, specs: tuple[str, ...]) -> None:
    """Check SPEC files; print every problem found."""
    from patternlang.compiler import check_file

    failed: list[PatSpecError] = []
    for spec in specs:
        try:
            check_file(spec, ctx.obj["search_path"])
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
@click.pass_context
@handle_errors
def compile_cmd(ctx: click.Context, spec: str, emit: str, output: str | None) -> None:
    """Compile SPEC to an execution plan (nothing runs)."""
    from patternlang import compiler
    from patternlang.plan.explain import explain

    if emit == "ast":
        text = json.dumps(_ast_json(compiler.parse_file(spec)), indent=2)
    else:
        plan = compiler.compile_file(spec, ctx.obj["search_path"])
        text = plan.to_json() if emit == "json" else explain(plan)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


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


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code."""
    try:
        rv = main_group.main(args=argv, prog_name="patc", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_SPEC
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    return rv if isinstance(rv, int) else EXIT_OK


# `patc run` / `patc report` are added by the runtime with `@main.command()`.
main.command = main_group.command  # type: ignore[attr-defined]

from patternlang import cli_run as _cli_run  # noqa: E402,F401  (registers `run` and `report`)

if __name__ == "__main__":
    sys.exit(main())
