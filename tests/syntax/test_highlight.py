"""Highlighting: the Pygments lexer `pat` and the TextMate grammar tokenize every shipped `.pat`
source without an error token.

The TextMate grammar is checked with a small matcher written here (TextMate's rule for a flat
list of `match` patterns: at each position the pattern whose match starts first wins, ties go to the
earlier pattern; text no pattern covers keeps only the root scope). Its regexes are run with
Python's `re`, which reads the constructs the grammar uses (classes, `\\b`, look-aheads) as
Oniguruma does."""

from __future__ import annotations

import json
import re

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, String

from patternlang.highlight import PatLexer, textmate_grammar
from .shipped import ROOT, all_sources

SOURCES = all_sources()
IDS = [s[0] for s in SOURCES]
GRAMMAR_FILE = ROOT / "editors" / "vscode" / "syntaxes" / "pat.tmLanguage.json"


def textmate_scopes(grammar: dict, line: str) -> list[tuple[str, str]]:
    """(text, scope) pieces of one line; unscoped text gets ``""``."""
    pats = [(re.compile(p["match"]), p) for p in grammar["patterns"]]
    out, pos = [], 0
    while pos < len(line):
        best = None
        for rx, p in pats:
            m = rx.search(line, pos)
            if m and (best is None or m.start() < best[0].start()):
                best = (m, p)
        if best is None:
            out.append((line[pos:], ""))
            break
        m, p = best
        if m.start() > pos:
            out.append((line[pos:m.start()], ""))
        if "captures" in p:
            for g in range(1, (m.re.groups or 0) + 1):
                if m.group(g):
                    out.append((m.group(g), p["captures"].get(str(g), {}).get("name", "")))
        else:
            out.append((m.group(), p["name"]))
        pos = max(m.end(), pos + 1)
    return out


def unscoped(grammar: dict, text: str) -> list[str]:
    return [piece.strip() for line in text.splitlines() for piece, scope in textmate_scopes(grammar, line)
            if (not scope and piece.strip()) or scope.startswith("invalid")]


def test_checked_in_grammar_is_generated():
    assert json.loads(GRAMMAR_FILE.read_text()) == textmate_grammar(), \
        "run: python -m patternlang.highlight > editors/vscode/syntaxes/pat.tmLanguage.json"


def test_vscode_extension_points_at_the_grammar():
    pkg = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text())
    (grammar,) = pkg["contributes"]["grammars"]
    assert (ROOT / "editors" / "vscode" / grammar["path"]).resolve() == GRAMMAR_FILE.resolve()
    assert grammar["scopeName"] == textmate_grammar()["scopeName"]
    assert pkg["contributes"]["languages"][0]["extensions"] == [".pat"]
    json.loads((ROOT / "editors" / "vscode" / "language-configuration.json").read_text())


@pytest.mark.parametrize("name,file,text", SOURCES, ids=IDS)
def test_pygments_has_no_error_token(name, file, text):
    errors = [v for t, v in PatLexer().get_tokens(text) if t in Error]
    assert errors == []


@pytest.mark.parametrize("name,file,text", SOURCES, ids=IDS)
def test_textmate_covers_every_character(name, file, text):
    assert unscoped(textmate_grammar(), text) == []


SAMPLE = '''## Doc.
use stdlib.lm as lm
model tiny = attn_only(layers=2, context=32)  # trailing
train t { data = base  steps = 5 }
patterning p {
  raise mean(ih) by 5% weight 1
  subject to { weight(a) >= 0.05 }
}
'''


def test_pygments_token_kinds():
    toks = [(t, v) for t, v in PatLexer().get_tokens(SAMPLE) if v.strip()]
    kinds = {v: t for t, v in toks}
    assert kinds["## Doc."] in Comment.Special and kinds["# trailing"] in Comment
    assert kinds["model"] in Keyword.Declaration and kinds["tiny"] in Name.Class
    assert kinds["data"] in Name.Attribute  # a setting key, not the declaration keyword
    assert kinds["raise"] in Keyword and kinds["by"] in Keyword
    assert [t for t, v in toks if v == "weight"] == [Keyword, Name.Function]  # soft keyword, call
    assert kinds["5%"] in Number and kinds["attn_only"] in Name.Function
    assert kinds["stdlib.lm"] in Name.Namespace
    assert all(t not in String for t, _ in toks)


def test_textmate_scopes_of_a_sample():
    scopes = dict(textmate_scopes(textmate_grammar(), "model tiny = attn_only(layers=2)  # c"))
    assert scopes["model"] == "storage.type.pat" and scopes["tiny"] == "entity.name.type.pat"
    assert scopes["attn_only"] == "entity.name.function.pat" and scopes["# c"].startswith("comment")
    assert unscoped(textmate_grammar(), "model m = 'single quotes'") == ["'", "'"]


def test_lexer_registered_for_pygments_and_rich():
    assert isinstance(get_lexer_by_name("pat"), PatLexer)
    assert isinstance(get_lexer_for_filename("x.pat"), PatLexer)
    from rich.syntax import Syntax

    assert isinstance(Syntax(SAMPLE, "pat").lexer, PatLexer)
