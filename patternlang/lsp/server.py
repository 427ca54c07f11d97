"""``patc lsp``: the language server over stdio (pygls 2).

Capabilities: diagnostics on open/change/save (the checker's codes, spans and hints, as ``patc
check`` prints them), hover, completion (trigger ``.``), go to definition, and document formatting
(``patc fmt``'s layout). Every answer comes from :mod:`patternlang.lsp.analysis`.
"""

from __future__ import annotations

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from patternlang import __version__
from patternlang.errors import Diagnostic, PatSpecError, Span
from patternlang.lsp import analysis
from patternlang.syntax.format import format_source

_KINDS = {"setting": T.CompletionItemKind.Property, "declaration": T.CompletionItemKind.Variable,
          "primitive": T.CompletionItemKind.Function, "builtin": T.CompletionItemKind.Function,
          "keyword": T.CompletionItemKind.Keyword}


def _range(span: Span) -> T.Range:
    start = T.Position(line=max(span.line - 1, 0), character=max(span.col - 1, 0))
    end_line = max(span.end_line - 1, start.line)
    end_char = max(span.end_col - 1, start.character + 1 if end_line == start.line else 0)
    return T.Range(start=start, end=T.Position(line=end_line, character=end_char))


def to_lsp(d: Diagnostic) -> T.Diagnostic:
    """One checker diagnostic as an LSP diagnostic (code, span, message; the hint as related text)."""
    span = d.span or Span("", 1, 1, 1, 2)
    message = d.message + (f"\nhelp: {d.hint}" if d.hint else "")
    severity = T.DiagnosticSeverity.Error if d.severity == "error" else T.DiagnosticSeverity.Warning
    return T.Diagnostic(range=_range(span), message=message, severity=severity, code=d.code,
                        source="patc")


def build(search_path: list[str] | None = None) -> LanguageServer:
    """A server with every feature registered (not started)."""
    server = LanguageServer("patternlang", __version__)

    def document(uri: str) -> tuple[str, str]:
        doc = server.workspace.get_text_document(uri)
        return doc.source, to_fs_path(uri) or uri

    def publish(uri: str, version: int | None = None) -> None:
        text, path = document(uri)
        diags = [to_lsp(d) for d in analysis.diagnostics(text, path, search_path)]
        server.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diags))

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: T.DidOpenTextDocumentParams) -> None:
        publish(params.text_document.uri, params.text_document.version)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: T.DidChangeTextDocumentParams) -> None:
        publish(params.text_document.uri, params.text_document.version)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: T.DidSaveTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(params: T.HoverParams) -> T.Hover | None:
        text, path = document(params.text_document.uri)
        md = analysis.hover(text, path, params.position.line, params.position.character, search_path)
        if md is None:
            return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=md))

    @server.feature(T.TEXT_DOCUMENT_COMPLETION, T.CompletionOptions(trigger_characters=["."]))
    def completion(params: T.CompletionParams) -> T.CompletionList:
        text, path = document(params.text_document.uri)
        items = analysis.completions(text, path, params.position.line, params.position.character,
                                     search_path)
        return T.CompletionList(is_incomplete=False, items=[
            T.CompletionItem(label=c.label, kind=_KINDS[c.kind], detail=c.detail) for c in items])

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def definition(params: T.DefinitionParams) -> T.Location | None:
        text, path = document(params.text_document.uri)
        loc = analysis.definition(text, path, params.position.line, params.position.character,
                                  search_path)
        if loc is None:
            return None
        return T.Location(uri=from_fs_path(str(loc.path.resolve())) or str(loc.path), range=_range(loc.span))

    @server.feature(T.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: T.DocumentFormattingParams) -> list[T.TextEdit] | None:
        text, path = document(params.text_document.uri)
        try:
            new = format_source(text, path)
        except PatSpecError:
            return None
        if new == text:
            return []
        end = T.Position(line=len(text.splitlines()) + 1, character=0)
        return [T.TextEdit(range=T.Range(start=T.Position(line=0, character=0), end=end), new_text=new)]

    return server


def serve(search_path: list[str] | None = None) -> None:
    """Run the server on stdin/stdout until the client disconnects."""
    build(search_path).start_io()
