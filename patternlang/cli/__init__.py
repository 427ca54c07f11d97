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


EXIT_TERMINATED, EXIT_INTERRUPTED = 143, 130
_KEPT = "completed steps are kept; continue with `patc run SPEC --out DIR --resume`"


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code.

    SIGTERM (what batch schedulers send) unwinds like Ctrl-C: worker processes are ended (see
    :mod:`patternlang.runtime.workers`), completed work stays on disk, exit 143 (130 for Ctrl-C).
    """
    import signal
    import threading

    from patternlang.runtime.workers import Terminated, end_children, on_sigterm

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if main_thread else None
    try:
        return _main(argv)
    except Terminated:
        end_children()
        click.echo(f"terminated (SIGTERM): {_KEPT}", err=True)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        end_children()
        click.echo(f"interrupted: {_KEPT}", err=True)
        return EXIT_INTERRUPTED
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def hoist_debug(argv: list[str]) -> list[str]:
    """``patc run SPEC --debug`` means ``patc --debug run SPEC``: the flag belongs to the group, but
    users put it after the subcommand too (not after a ``--``)."""
    cut = argv.index("--") if "--" in argv else len(argv)
    if "--debug" not in argv[1:cut] or (argv and argv[0] == "--debug"):
        return argv
    rest = [a for a in argv[:cut] if a != "--debug"]
    return ["--debug", *rest, *argv[cut:]]


def _main(argv: list[str] | None) -> int:
    import sys

    argv = hoist_debug(list(sys.argv[1:] if argv is None else argv))
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
        from patternlang.runtime.workers import end_children

        end_children()
        click.echo(f"interrupted: {_KEPT}", err=True)
        return EXIT_INTERRUPTED
    return rv if isinstance(rv, int) else EXIT_OK
