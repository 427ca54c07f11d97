"""`patc lsp` end to end: the server is spawned as a subprocess and spoken to in LSP (JSON-RPC with
Content-Length framing) over its stdin/stdout, as an editor does."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs the lsp extra: pip install 'patternlang[lsp]'")

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "specs" / "quickstart.pat"


class Client:
    """A minimal LSP client: requests wait for their response; notifications are queued."""

    def __init__(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "patternlang", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                     cwd=ROOT)  # the server logs there; an unread pipe would block it
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                ch = out.read(1)
                if not ch:
                    return
                header += ch
            length = int(next(h for h in header.decode().split("\r\n") if h.lower().startswith(
                "content-length")).split(":")[1])
            self.messages.put(json.loads(out.read(length)))

    def send(self, msg: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def wait(self, pred, timeout: float = 60) -> dict:
        while True:
            msg = self.messages.get(timeout=timeout)
            if pred(msg):
                return msg

    def close(self) -> None:
        try:
            self.request("shutdown", {})
            self.notify("exit", {})
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def client():
    c = Client()
    init = c.request("initialize", {"processId": None, "rootUri": QUICKSTART.parent.as_uri(),
                                    "capabilities": {}})
    caps = init["result"]["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["completionProvider"]
    c.notify("initialized", {})
    yield c
    c.close()


def uri() -> str:
    return QUICKSTART.as_uri()


def diagnostics_after(c: Client, method: str, params: dict) -> list[dict]:
    c.notify(method, params)
    return c.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")["params"]["diagnostics"]


def position(text: str, line_has: str, word: str) -> dict:
    for i, line in enumerate(text.splitlines()):
        if line_has in line:
            return {"line": i, "character": line.index(word) + 1}
    raise AssertionError(line_has)


def open_document(c: Client, path: Path, text: str) -> None:
    path.write_text(text)
    c.notify("textDocument/didOpen", {"textDocument": {"uri": path.as_uri(), "languageId": "pat",
                                                       "version": 1, "text": text}})


def test_diagnostics_on_open_and_change(client):
    text = QUICKSTART.read_text()
    diags = diagnostics_after(client, "textDocument/didOpen", {"textDocument": {
        "uri": uri(), "languageId": "pat", "version": 1, "text": text}})
    assert diags == []
    bad = text.replace("induction_score(layer=1", "induction_scroe(layer=1")
    diags = diagnostics_after(client, "textDocument/didChange", {
        "textDocument": {"uri": uri(), "version": 2}, "contentChanges": [{"text": bad}]})
    (d,) = diags
    # The same code, span and hint as `patc check` prints (PAT201 at the observable's line, columns
    # 17-32, did you mean ...).
    line = next(i for i, ln in enumerate(text.splitlines()) if ln.startswith("observable ih"))
    assert d["code"] == "PAT201" and d["source"] == "patc"
    assert d["range"] == {"start": {"line": line, "character": 16}, "end": {"line": line, "character": 31}}
    assert "unknown name 'induction_scroe'" in d["message"] and "did you mean 'induction_score'?" in d["message"]
    diags = diagnostics_after(client, "textDocument/didChange", {
        "textDocument": {"uri": uri(), "version": 3}, "contentChanges": [{"text": text}]})
    assert diags == []


def test_hover_primitive_declaration_and_setting(client):
    text = QUICKSTART.read_text()
    h = client.request("textDocument/hover", {"textDocument": {"uri": uri()},
                                              "position": position(text, "model tiny", "attn_only")})
    value = h["result"]["contents"]["value"]
    assert "attn_only(layers: int = 2" in value and "attention-only transformer" in value
    h = client.request("textDocument/hover", {"textDocument": {"uri": uri()},
                                              "position": position(text, "raise mean(ih)", "ih")})
    assert "observable ih = induction_score" in h["result"]["contents"]["value"]
    assert "Induction score of each layer-1 head" in h["result"]["contents"]["value"]
    h = client.request("textDocument/hover", {"textDocument": {"uri": uri()},
                                              "position": position(text, "steps = 500", "steps")})
    assert "optimizer steps" in h["result"]["contents"]["value"]


def test_completion_of_settings_names_and_primitives(client):
    text = QUICKSTART.read_text()
    pos = position(text, "steps = 500", "steps")
    pos["character"] = 2
    labels = {i["label"] for i in client.request("textDocument/completion", {
        "textDocument": {"uri": uri()}, "position": pos})["result"]["items"]}
    assert {"steps", "checkpoints", "optimizer"} <= labels  # settings of a train block
    assert {"tiny", "base", "ih", "repeats"} <= labels  # names in scope
    assert {"attn_only", "induction_score", "attn2", "mean"} <= labels  # primitives, stdlib, built-ins


def test_definition_of_names_and_modules(client):
    text = QUICKSTART.read_text()
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri()},
                                                     "position": position(text, "raise mean(ih)", "ih")})["result"]
    assert loc["uri"] == uri()
    assert loc["range"]["start"]["line"] == position(text, "observable ih =", "ih")["line"]
    loc = client.request("textDocument/definition", {"textDocument": {"uri": uri()},
                                                     "position": position(text, "use stdlib.lm", "lm")})["result"]
    assert loc["uri"].endswith("/stdlib/lm.pat")


def test_definition_into_an_imported_module(client, tmp_path):
    spec = tmp_path / "s.pat"
    text = "use stdlib.lm as lm\nmodel m = lm.attn2(heads=2)\n"
    open_document(client, spec, text)
    loc = client.request("textDocument/definition", {"textDocument": {"uri": spec.as_uri()},
                                                     "position": {"line": 1, "character": 15}})["result"]
    assert loc["uri"].endswith("/stdlib/lm.pat")
    lm_text = (ROOT / "stdlib" / "lm.pat").read_text().splitlines()
    assert lm_text[loc["range"]["start"]["line"]].startswith("model attn2(")


def test_formatting_returns_the_canonical_layout(client, tmp_path):
    spec = tmp_path / "f.pat"
    text = "data a=uniform_tokens(vocab=4, length=4)\n"
    open_document(client, spec, text)
    (edit,) = client.request("textDocument/formatting", {"textDocument": {"uri": spec.as_uri()},
                                                         "options": {"tabSize": 2, "insertSpaces": True}})["result"]
    assert edit["newText"] == "data a = uniform_tokens(vocab=4, length=4)\n"


# --- issue 27 item 8: every request gets an answer, nothing crashes the server -----------------


def ask(c: Client, method: str, params, timeout: float = 15) -> dict:
    c.next_id += 1
    c.send({"id": c.next_id, "method": method, "params": params})
    return c.wait(lambda m: m.get("id") == c.next_id and "method" not in m, timeout=timeout)


@pytest.mark.parametrize("params", [
    None, {}, {"textDocument": {"uri": QUICKSTART.as_uri()}},
    {"textDocument": {"uri": QUICKSTART.as_uri()}, "position": {"line": "x", "character": 1}},
    {"textDocument": {"uri": QUICKSTART.as_uri()}, "position": {"line": -5, "character": -3}},
    {"textDocument": 7, "position": {"line": 0, "character": 0}},
], ids=["null", "empty", "no_position", "wrong_type", "negative", "uri_not_a_map"])
@pytest.mark.parametrize("method", ["textDocument/hover", "textDocument/completion",
                                    "textDocument/definition"])
def test_bad_parameters_get_an_invalid_params_error(client, method, params):
    answer = ask(client, method, params)
    assert answer["error"]["code"] == -32602, answer
    assert "traceback" not in json.dumps(answer).lower()


def test_a_document_neither_open_nor_on_disk_is_a_short_error(client, tmp_path):
    where = {"textDocument": {"uri": (tmp_path / "missing.pat").as_uri()},
             "position": {"line": 0, "character": 0}}
    for method in ("textDocument/definition", "textDocument/hover"):
        answer = ask(client, method, where)
        assert answer["error"]["code"] == -32803 and "missing.pat" in answer["error"]["message"]
        assert "traceback" not in json.dumps(answer).lower()
    answer = ask(client, "textDocument/hover", {"textDocument": {"uri": "file:///dev/zero"},
                                                "position": {"line": 0, "character": 0}})
    assert answer["error"]["code"] == -32803  # not read forever


def test_a_huge_content_length_is_refused_and_the_server_goes_on():
    c = Client()
    try:
        c.request("initialize", {"processId": None, "rootUri": QUICKSTART.parent.as_uri(),
                                 "capabilities": {}})
        c.proc.stdin.write(b"Content-Length: 1000000000000\r\n\r\n" + b'{"jsonrpc": "2.0"}')
        c.proc.stdin.flush()
        refused = c.wait(lambda m: "error" in m, timeout=15)
        assert refused["id"] is None and refused["error"]["code"] == -32600, refused
        answer = ask(c, "textDocument/hover", {"textDocument": {"uri": QUICKSTART.as_uri()},
                                               "position": {"line": 0, "character": 0}})
        assert "result" in answer, answer
        assert c.proc.poll() is None
    finally:
        c.close()
