"""``patc fmt`` and ``patc lsp``: the commands editors and CI call."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from patternlang.cli.base import EXIT_RUNTIME, handle_errors, main_group
from patternlang.errors import PatSpecError


def formatted(path: Path, text: str) -> str:
    """``text`` (the contents of ``path``) in the canonical layout: a `.pat` file whole, a Markdown
    file's ```` ```pat ```` blocks."""
    from patternlang.syntax.format import format_source
    from patternlang.syntax.format_markdown import format_markdown

    if path.suffix == ".md":
        return format_markdown(text, str(path))
    return format_source(text, str(path))


@main_group.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--check", is_flag=True,
              help="Change nothing; print a diff and exit 1 if a file is not formatted.")
@handle_errors
def fmt(specs: tuple[str, ...], check: bool) -> int:
    """Format SPEC files (.pat; .md files: their ```pat blocks) in place, in the canonical layout.

    Files are read as ``patc check`` reads them (UTF-8, a byte-order mark kept aside and written
    back; other bytes are PAT102; devices, pipes and files over the size limit are refused)."""
    from patternlang.check.modules import read_source

    failed: list[PatSpecError] = []
    unformatted = 0
    for spec in specs:
        path = Path(spec)
        try:
            text = read_source(path, spec)
            new = formatted(path, text)
        except PatSpecError as exc:
            failed.append(exc)
            continue
        if new == text:
            continue
        unformatted += 1
        if check:
            click.echo("".join(difflib.unified_diff(text.splitlines(True), new.splitlines(True),
                                                    f"{spec} (now)", f"{spec} (formatted)")), nl=False)
        else:
            with open(path, "rb") as fh:
                bom = "\ufeff" if fh.read(3) == b"\xef\xbb\xbf" else ""
            path.write_text(bom + new, encoding="utf-8")
            click.echo(f"formatted {spec}", err=True)
    if failed:
        raise PatSpecError([d for e in failed for d in e.diagnostics],
                           {k: v for e in failed for k, v in e.sources.items()})
    if check and unformatted:
        click.echo(f"{unformatted} of {len(specs)} file(s) not formatted; run `patc fmt` on them",
                   err=True)
        return EXIT_RUNTIME
    return 0


@main_group.command()
@click.pass_context
@handle_errors
def lsp(ctx: click.Context) -> None:
    """Run the language server on stdin/stdout (for editors; needs `pip install patternlang[lsp]`)."""
    try:
        from patternlang.lsp.server import serve
    except ImportError as exc:
        if "pygls" not in str(exc) and "lsprotocol" not in str(exc):
            raise
        raise click.ClickException("the language server needs pygls: pip install 'patternlang[lsp]'")
    serve(ctx.obj["search_path"])
