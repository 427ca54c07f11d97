"""``patc lsp``: the language server over stdio (pygls 2).

Capabilities: diagnostics on open/change/save (the checker's codes, spans and hints, as ``patc
check`` prints them), hover, completion (trigger ``.``), go to definition, and document formatting
(``patc fmt``'s layout). Every answer comes from :mod:`patternlang.lsp.analysis`.

Robust to a hostile or buggy client: every request gets an answer. A message whose
``Content-Length`` is above :data:`MAX_MESSAGE_BYTES` is refused (an Invalid Request error) without
reading it into memory; a request whose parameters are missing or of the wrong type (a negative
position) gets an Invalid Params error; a handler that fails (a document neither open nor on disk)
answers with a short Request Failed error, never a traceback.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Any, BinaryIO, Callable

from lsprotocol import types as T
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
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


MAX_MESSAGE_BYTES = 16 << 20  # a spec is at most 1 MiB (check.modules.MAX_SOURCE_BYTES)
MAX_HEADER_LINE = 64 << 10
_LENGTH = re.compile(rb"^content-length: *(\d+)\r\n$", re.IGNORECASE)
INVALID_REQUEST, INVALID_PARAMS = -32600, -32602


class JsonRpcRequestFailed(JsonRpcException):
    """LSP's RequestFailed: the request was valid but could not be answered."""

    CODE = -32803
    MESSAGE = "Request Failed"


class GuardedProtocol(LanguageServerProtocol):
    """pygls' protocol, answering a request it cannot decode instead of dropping it (pygls logs
    the error and the client waits forever)."""

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except Exception as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self.refuse(data.get("id"), INVALID_PARAMS, f"invalid parameters for "
                            f"{str(data.get('method'))[:80]}: {_first_line(exc.__cause__ or exc)}")
            raise

    def refuse(self, msg_id: Any, code: int, message: str) -> None:
        """Send an error response to request ``msg_id`` (None: a message without a usable id)."""
        ok_id = msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None
        self._send_data({"jsonrpc": "2.0", "id": ok_id, "error": {"code": code, "message": message}})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class BoundedInput:
    """Standard input for pygls' reader that refuses a message above :data:`MAX_MESSAGE_BYTES`:
    its ``Content-Length`` header is replaced (so the body is never read as one block), an
    Invalid Request error is sent, and what follows is skipped up to the next ``Content-Length``
    header. Header lines are read at most :data:`MAX_HEADER_LINE` bytes at a time, so a refused
    body streams past in pieces."""

    def __init__(self, raw: BinaryIO, refuse: Callable[[int], None]):
        self.raw, self.refuse = raw, refuse
        self.skipping = False

    def readline(self, size: int = -1) -> bytes:
        line = self.raw.readline(MAX_HEADER_LINE)
        if self.skipping and line:
            at = line.lower().find(b"content-length:")
            if at < 0:
                return b"X-Skipped: refused message\r\n"
            self.skipping, line = False, line[at:]
        found = _LENGTH.match(line)
        if found and int(found.group(1)) > MAX_MESSAGE_BYTES:
            self.refuse(int(found.group(1)))
            self.skipping = True
            return b"X-Refused: message too large\r\n"
        return line

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n)


def _answering(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A feature handler whose failures are short JSON-RPC errors (no traceback)."""

    @functools.wraps(fn)
    def wrapper(params: Any) -> Any:
        try:
            return fn(params)
        except JsonRpcException:
            raise
        except (AttributeError, TypeError, ValueError) as exc:
            raise JsonRpcInvalidParams(f"invalid parameters: {_first_line(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - an editor must always get an answer
            raise JsonRpcRequestFailed(f"{type(exc).__name__}: {_first_line(exc)}") from None

    return wrapper


def build(search_path: list[str] | None = None) -> LanguageServer:
    """A server with every feature registered (not started)."""
    server = LanguageServer("patternlang", __version__, protocol_cls=GuardedProtocol)
    feature = server.feature

    def guarded_feature(*args: Any, **kwargs: Any):
        register = feature(*args, **kwargs)
        return lambda fn: register(_answering(fn))

    server.feature = guarded_feature  # type: ignore[method-assign]

    def document(uri: str) -> tuple[str, str]:
        """The text of ``uri``: the editor's copy when open, else the file as ``patc check`` reads
        it (a missing file, a device or a file over the size limit: a RequestFailed error)."""
        from urllib.parse import unquote

        from patternlang.check.modules import read_source
        from patternlang.errors import PatError

        path = to_fs_path(uri) or uri
        if unquote(uri) in server.workspace.text_documents:
            return server.workspace.get_text_document(uri).source, path
        try:
            return read_source(Path(path), uri), path
        except PatError as exc:
            raise JsonRpcRequestFailed(f"{uri} is not open in the editor and cannot be read: "
                                       f"{_first_line(exc)}") from None

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
    server = build(search_path)

    def refuse(length: int) -> None:
        server.protocol.refuse(None, INVALID_REQUEST, f"message of {length:,} bytes refused: "  # type: ignore[attr-defined]
                               f"the limit is {MAX_MESSAGE_BYTES:,} bytes")

    server.start_io(stdin=BoundedInput(sys.stdin.buffer, refuse))  # type: ignore[arg-type]
