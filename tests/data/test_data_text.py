"""BPE tokenizer, the standard-library corpus, its cache, and user text/token files."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from patternlang.data import ComponentError, text
from patternlang.data.bpe import BPETokenizer, train_bpe

SAMPLE = ("def add(a, b):\n    return a + b\n\n# adds numbers\nclass Adder:\n"
          "    def __call__(self, a, b):\n        return add(a, b)\n") * 20


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNLANG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(text, "_MEMO", {})
    return tmp_path / "cache"


def test_bpe_round_trip_merges_and_determinism():
    tok = train_bpe(SAMPLE, 300)
    assert len(tok.merges) == 44 and tok.unk is None
    for s in (SAMPLE, "héllo wörld ✓ \t\n  x", "", "return add(a, b)"):
        assert tok.decode(tok.encode(s)) == s
    assert len(tok.encode("    return add(a, b)")) <= 10  # 20 bytes: merges compress
    again = train_bpe(SAMPLE, 300)
    assert again.merges == tok.merges
    assert BPETokenizer.from_json(tok.to_json()).encode(SAMPLE) == tok.encode(SAMPLE)


_TOK = train_bpe(SAMPLE, 320)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_text(s):
    assert _TOK.decode(_TOK.encode(s)) == s


def test_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("PATTERNLANG_CACHE", str(blocker / "sub"))
    monkeypatch.setattr(text, "_MEMO", {})
    with pytest.raises(ComponentError, match="PATTERNLANG_CACHE"):
        text.stdlib_corpus(300, max_bytes=20_000)


def test_small_vocab_keeps_frequent_bytes_and_maps_the_rest_to_unk():
    tok = train_bpe(SAMPLE, 12)
    ids = tok.encode(SAMPLE + "Z")
    assert max(ids) < 12 and tok.unk == 11 and ids[-1] == tok.unk
    assert " " in tok.decode(tok.encode("a b"))


def test_split_source_separates_code_from_docstrings_and_comments():
    src = '"""Module doc."""\nimport os  # why\n\ndef f():\n    """Fn doc."""\n    return 1\n'
    code, prose = text.split_source(src)
    assert "import os" in code and "return 1" in code
    assert "doc" not in code and "why" not in code
    assert "Module doc." in prose and "Fn doc." in prose and "why" in prose


def test_stdlib_corpus_is_cached_and_reused(cache, monkeypatch):
    tok, arrays = text.stdlib_corpus(300, max_bytes=60_000)
    assert set(arrays) == {"code", "prose"} and len(arrays["code"]) > 1000
    assert int(arrays["code"].max()) < 300
    assert tok.decode(arrays["prose"][:200].tolist()).strip()
    entries = sorted(p.name for p in cache.iterdir())
    assert any(e.startswith("stdlib-text-") for e in entries)
    assert any(e.startswith("stdlib-") and not e.startswith("stdlib-text") for e in entries)
    monkeypatch.setattr(text, "_MEMO", {})

    def no_training(*a, **k):
        raise AssertionError("retrained although the cache holds this tokenizer")

    monkeypatch.setattr(text, "train_bpe", no_training)
    tok2, arrays2 = text.stdlib_corpus(300, max_bytes=60_000)
    assert tok2.merges == tok.merges
    assert all(np.array_equal(arrays[k], arrays2[k]) for k in arrays)


def test_python_components_share_one_tokenizer(cache, monkeypatch):
    monkeypatch.setattr(text, "DEFAULT_MAX_BYTES", 60_000)
    monkeypatch.setattr(text.stdlib_corpus, "__defaults__", (60_000,))
    code, prose = text.python_code(280, 16), text.python_prose(280, 16)
    g = torch.Generator().manual_seed(0)
    assert code.sample(8, g)["tokens"].shape == (8, 16) and code.vocab_size == 280
    assert len(list(cache.glob("stdlib-*/tokenizer.json"))) == 1
    assert not torch.equal(code.stream[:100], prose.stream[:100])


def test_text_file_and_token_files(cache, tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text(SAMPLE)
    comp = text.text_file(str(p), 270, 10)
    assert comp.sample(3, torch.Generator().manual_seed(0))["tokens"].shape == (3, 10)
    np.save(tmp_path / "ids.npy", np.arange(100) % 7)
    stream = text.token_file(str(tmp_path / "ids.npy"), 5)
    assert stream.vocab_size == 7 and stream.sample(2, torch.Generator())["tokens"].shape == (2, 5)
    np.save(tmp_path / "rows.npy", np.arange(20).reshape(4, 5))
    rows = text.token_file(str(tmp_path / "rows.npy"), 5)
    out = rows.sample(6, torch.Generator().manual_seed(1))["tokens"]
    assert (out[:, 0] % 5 == 0).all()
    from safetensors.torch import save_file
    save_file({"tokens": torch.arange(30)}, str(tmp_path / "ids.safetensors"))
    assert text.token_file(str(tmp_path / "ids.safetensors"), 4).n_tokens == 30


def test_file_errors_are_clear(cache, tmp_path):
    with pytest.raises(ComponentError, match="does not exist"):
        text.text_file(str(tmp_path / "missing.txt"))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ComponentError, match="plain .npy"):
        text.token_file(str(tmp_path / "obj.npy"))
    np.save(tmp_path / "f.npy", np.ones(10))
    with pytest.raises(ComponentError, match="integers"):
        text.token_file(str(tmp_path / "f.npy"))
    np.save(tmp_path / "wide.npy", np.zeros((3, 9), dtype=np.int64))
    with pytest.raises(ComponentError, match="shape"):
        text.token_file(str(tmp_path / "wide.npy"), 5)
