"""The ``patc`` group, exit codes and error handling shared by every command.

Exit codes: 0 ok; 2 a spec or usage error (diagnostics printed, never a traceback); 1 a runtime
failure (:class:`~patternlang.errors.PatRuntimeError`); 70 an internal error (a bug: a banner asks
for a report; ``--debug`` shows the traceback).

Commands are plain functions registered on :data:`main_group` with ``@main_group.command()``.
"""

from __future__ import annotations

import functools
import sys
import traceback
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
            if debug and exc.__cause__ is not None:  # e.g. the traceback of the user's code
                traceback.print_exception(exc.__cause__)
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
