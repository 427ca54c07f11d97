"""``patc``: the command line. Thin: parse flags, call the library, render, choose the exit code.

Exit codes: 0 ok; 2 a spec or usage error (diagnostics printed, never a traceback); 1 a runtime
failure (:class:`~patternlang.errors.PatRuntimeError`); 70 an internal error (a bug: a banner asks
for a report; ``--debug`` shows the traceback).

The group and error handling live in :mod:`patternlang.cli.base`; each command module registers its
commands on it (``spec_commands``: check, compile, stdlib; ``run_commands``: run, report;
``editor_commands``: fmt, lsp).
"""

from __future__ import annotations

import click

from patternlang.cli import editor_commands, run_commands, spec_commands  # noqa: F401  (register)
from patternlang.cli.base import EXIT_OK, EXIT_SPEC, handle_errors, main_group

__all__ = ["main", "main_group", "handle_errors"]


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
