"""`patc fmt`: the canonical layout keeps comments, is idempotent and never changes the plan."""

from __future__ import annotations

import dataclasses

import pytest

from patternlang import cli
from patternlang.compiler import compile_source
from patternlang.errors import PatSpecError, Span
from patternlang.syntax.format import format_source
from patternlang.syntax.format_markdown import format_markdown
from patternlang.syntax.parser import parse
from .shipped import DOCS, ROOT, all_sources

SOURCES = all_sources()
IDS = [s[0] for s in SOURCES]


def shape(node):
    """The syntax tree without source positions (what formatting must preserve)."""
    if isinstance(node, Span):
        return None
    if dataclasses.is_dataclass(node):
        return (type(node).__name__,) + tuple(
            shape(getattr(node, f.name)) for f in dataclasses.fields(node)
            if f.name != "span" and not f.name.endswith("_span") and f.name != "file")
    if isinstance(node, (list, tuple)):
        return tuple(shape(x) for x in node)
    return node


@pytest.mark.parametrize("name,file,text", SOURCES, ids=IDS)
def test_shipped_source_formatting_keeps_tree_and_is_idempotent(name, file, text):
    out = format_source(text, file)
    assert format_source(out, file) == out
    assert shape(parse(out, file)) == shape(parse(text, file))


@pytest.mark.parametrize("name,file,text", [s for s in SOURCES if not s[0].startswith("stdlib")],
                         ids=[i for i in IDS if not i.startswith("stdlib")])
def test_formatting_keeps_every_step_hash(name, file, text):
    before = compile_source(text, file).hashes()
    after = compile_source(format_source(text, file), file).hashes()
    assert after == before


@pytest.mark.parametrize("name,file,text", SOURCES, ids=IDS)
def test_shipped_sources_are_formatted(name, file, text):
    """Every shipped spec, stdlib module and docs example is in the canonical layout (`patc fmt
    specs/*.pat specs/*/*.pat stdlib/*.pat examples/*/*.pat docs/*.md README.md examples/*/README.md`)."""
    assert format_source(text, file) == text, f"run `patc fmt {name.split('#')[0]}`"


MESSY = '''# header


use stdlib.lm   as lm # after the use
use stdlib.core
model  tiny=attn_only( layers=2,heads=4 , d_model=64, context=32, vocab=64 )
data repeats = repeated_spans(vocab=64, length=32, period=8)
data markov = markov_text(vocab=64, length=32, order=1)  # markov
mixture base = {
   repeats: 0.35, # a comment
   # own line
   markov: 0.65}
## Pretraining.
train pretrain { model = tiny  data = base  steps = 500
  batch = 32   optimizer = adamw(lr=1e-2, weight_decay=0.05)
   checkpoints = [100,
   ]


  # before the end
}
## doc
sampler local { step = 3e-4  gamma = 100 } # after
observable ih = induction_score(layer=1, heads=*, period=8)
observable x = -mean(ih)*2 - (1+mean(ih))/3
susceptibility chi { at = pretrain.step(100) sampler = local observe = [ih, loss(repeats),
  loss(markov)] }
patterning accelerate {
  from = chi
  raise mean(ih)   by 0.1 weight 1
  hold loss(markov)
  subject to { weight(repeats) >= 0.05  kl(base) <= 0.05 }
}
# end
'''

CANONICAL = '''# header

use stdlib.lm as lm  # after the use
use stdlib.core
model tiny = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)
data repeats = repeated_spans(vocab=64, length=32, period=8)
data markov  = markov_text(vocab=64, length=32, order=1)  # markov

mixture base = {
  repeats: 0.35,  # a comment
  # own line
  markov:  0.65,
}

## Pretraining.
train pretrain {
  model = tiny
  data = base
  steps = 500
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [100]
  # before the end
}

## doc
sampler local { step = 3e-4  gamma = 100 }  # after
observable ih = induction_score(layer=1, heads=*, period=8)
observable x  = -mean(ih) * 2 - (1 + mean(ih)) / 3

susceptibility chi {
  at = pretrain.step(100)
  sampler = local
  observe = [ih, loss(repeats), loss(markov)]
}

patterning accelerate {
  from = chi
  raise mean(ih) by 0.1 weight 1
  hold loss(markov)
  subject to {
    weight(repeats) >= 0.05
    kl(base) <= 0.05
  }
}
# end
'''


def test_canonical_layout_of_a_messy_spec():
    out = format_source(MESSY)
    assert out == CANONICAL
    assert format_source(out) == out
    assert shape(parse(out)) == shape(parse(MESSY))
    assert parse(out).decls[4].doc == "Pretraining."
    assert compile_source(out).hashes() == compile_source(MESSY).hashes()


def test_multiline_list_keeps_one_item_per_line_with_comments():
    src = "observable ih = induction_score(layer=1, heads=*, period=8)\n" \
          "train t {\n  model = m\n  track = [\n    ih,  # the heads\n    mean(ih)\n  ]\n}\n"
    out = format_source(src)
    assert "  track = [\n    ih,  # the heads\n    mean(ih),\n  ]\n" in out
    assert format_source(out) == out


def test_markdown_formats_only_pat_blocks():
    md = "Text  with  spaces.\n\n```pat\ndata a=uniform_tokens(vocab=4, length=4)\n```\n\n```python\nx=1\n```\n"
    assert format_markdown(md) == md.replace("data a=uniform_tokens", "data a = uniform_tokens")


def test_syntax_error_is_a_spec_error():
    with pytest.raises(PatSpecError) as exc:
        format_source("model m = attn_only(", "bad.pat")
    assert exc.value.diagnostics[0].code.startswith("PAT1")


def test_cli_fmt_check_and_write(tmp_path, capsys):
    spec = tmp_path / "s.pat"
    spec.write_text("data a=uniform_tokens(vocab=4, length=4)\n")
    assert cli.main(["fmt", "--check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert "-data a=uniform_tokens" in out and "+data a = uniform_tokens" in out
    assert cli.main(["fmt", str(spec)]) == 0
    assert spec.read_text() == "data a = uniform_tokens(vocab=4, length=4)\n"
    assert cli.main(["fmt", "--check", str(spec)]) == 0


def test_cli_fmt_syntax_error_exits_2(tmp_path, capsys):
    spec = tmp_path / "bad.pat"
    spec.write_text("model m = attn_only(\n")
    assert cli.main(["fmt", str(spec)]) == 2
    assert "bad.pat:" in capsys.readouterr().err
    assert spec.read_text() == "model m = attn_only(\n"


def test_docs_pages_are_listed():
    assert ROOT / "docs" / "language.md" in DOCS


def test_a_pat_block_shown_inside_another_fence_is_left_as_written():
    """Issue 27 item 9: a literal example of a ```pat block (inside a ```` fence, or a ~~~ one)
    is documentation text, not a spec to reformat."""
    inner = "```pat\ndata a=uniform_tokens(vocab=4, length=4)\n```\n"
    md = f"Write:\n\n````markdown\n{inner}````\n\n~~~\n{inner}~~~\n\n{inner}"
    out = format_markdown(md)
    assert out.count("data a=uniform_tokens") == 2 and out.count("data a = uniform_tokens") == 1
    assert out.endswith("```pat\ndata a = uniform_tokens(vocab=4, length=4)\n```\n")


def test_a_comment_between_a_setting_key_and_its_value_parses_and_formats():
    """Issue 27 item 9: `data  # c` then `= base` on the next line was a parse error (a keyword
    used as a setting key was told apart by looking only past spaces)."""
    src = ("use stdlib.lm\nmodel m = attn_only(layers=1, heads=1, d_model=8, context=4, vocab=4)\n"
           "data d = uniform_tokens(vocab=4, length=4)\nmixture base = {d: 1}\n"
           "train t {\n  model = m\n  data # the mixture\n    = base\n  steps = 2\n}\n")
    out = format_source(src)
    assert "  data = base  # the mixture\n" in out
    assert format_source(out) == out
