"""``hf_dataset`` (Hugging Face ``datasets`` + a ``tokenizers`` BPE): loaders, tokenizer, cache keys,
errors, and a spec whose model trains on it end to end (extra ``data``; skipped without it).

Every file here is written by the test; nothing is downloaded.
"""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from patternlang.data import fast_bpe
from patternlang.data import hf as hfdata
from patternlang.data.component import ComponentError

pytest.importorskip("datasets")
pytest.importorskip("tokenizers")

WORDS = "the cat sat on a mat while dogs ran in the park and birds sang songs".split()


def _rows(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(12)) + f" #{i}" for i in range(n)]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps({"text": r, "id": i}) + "\n" for i, r in enumerate(rows)))
    return path


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNLANG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hfdata, "_MEMO", {})


def test_jsonl_round_trips_through_the_trained_tokenizer(tmp_path):
    rows = _rows(50)
    comp = hfdata.hf_dataset(str(_jsonl(tmp_path / "d.jsonl", rows)), vocab=300, length=8)
    assert comp.vocab_size == 300 and comp.seq_len == 8 and int(comp.stream.max()) < 300
    entry = next((tmp_path / "cache").glob("hfdata-*"))
    tok = fast_bpe.load_tokenizer(entry / "tokenizer.json")
    docs = tok.decode(comp.stream.tolist(), skip_special_tokens=False).split(fast_bpe.EOT)
    assert docs[:-1] == rows and docs[-1] == ""  # every row, in order, one <|endoftext|> after each
    assert int((comp.stream == tok.token_to_id(fast_bpe.EOT)).sum()) == len(rows)
    batch = comp.sample(5, torch.Generator().manual_seed(0))
    assert batch["tokens"].shape == (5, 8)


def test_small_vocab_keeps_the_most_frequent_characters_and_an_unk(tmp_path):
    tok = fast_bpe.train_tokenizer(["aaaa bbb cc d" * 20], vocab=5)
    assert tok.get_vocab_size() == 5
    assert (tok.token_to_id(fast_bpe.EOT), tok.token_to_id(fast_bpe.UNK)) == (0, 1)
    ids = tok.encode("zz a").ids
    assert ids[0] == 1 and max(ids) < 5  # z never seen: <unk>


def test_training_is_deterministic(tmp_path, monkeypatch):
    path = str(_jsonl(tmp_path / "d.jsonl", _rows(80)))
    a = hfdata.hf_dataset(path, vocab=64, length=8).stream
    monkeypatch.setenv("PATTERNLANG_CACHE", str(tmp_path / "other"))
    monkeypatch.setattr(hfdata, "_MEMO", {})
    assert torch.equal(a, hfdata.hf_dataset(path, vocab=64, length=8).stream)


def test_cache_key_follows_content_vocab_and_tokenizer(tmp_path, monkeypatch):
    path = _jsonl(tmp_path / "d.jsonl", _rows(40))
    first = hfdata.hf_dataset(str(path), vocab=64).stream
    monkeypatch.setattr(hfdata, "_MEMO", {})
    monkeypatch.setattr(fast_bpe, "train_tokenizer", lambda *a, **k: pytest.fail("retrained"))
    assert torch.equal(first, hfdata.hf_dataset(str(path), vocab=64).stream)  # read from the cache
    monkeypatch.undo()
    monkeypatch.setenv("PATTERNLANG_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hfdata, "_MEMO", {})
    hfdata.hf_dataset(str(path), vocab=80)
    _jsonl(path, _rows(40, seed=1))  # same name and size class, new content
    hfdata.hf_dataset(str(path), vocab=64)
    tok_file = tmp_path / "tok.json"
    tok_file.write_text(fast_bpe.train_tokenizer(_rows(10), vocab=70).to_str())
    hfdata.hf_dataset(str(path), vocab=70, tokenizer_path=str(tok_file))
    assert len(list((tmp_path / "cache").glob("hfdata-*"))) == 4


def test_save_to_disk_splits_parquet_and_text_files(tmp_path):
    import datasets

    rows = _rows(30)
    ds = datasets.Dataset.from_dict({"body": rows, "n": list(range(30))})
    datasets.DatasetDict({"train": ds, "test": ds.select(range(5))}).save_to_disk(tmp_path / "dd")
    test = hfdata.load_texts(str(tmp_path / "dd"), split="test", column="body")
    assert test == rows[:5]
    ds.to_parquet(str(tmp_path / "d.parquet"))
    assert hfdata.load_texts(str(tmp_path / "d.parquet"), column="body", max_rows=7) == rows[:7]
    (tmp_path / "d.txt").write_text("\n".join(rows) + "\n")
    assert hfdata.load_texts(str(tmp_path / "d.txt"), split="validation") == rows


@pytest.mark.parametrize("kwargs,match", [
    ({"column": "body"}, r"no column 'body'.*\n.*\['text', 'id'\]"),
    ({"column": "id"}, "holds int values, not text"),
    ({"max_rows": 0, "split": "train", "column": "text", "vocab": 2}, "leaves no room"),
])
def test_bad_settings_are_clear_errors(tmp_path, kwargs, match):
    path = str(_jsonl(tmp_path / "d.jsonl", _rows(10)))
    with pytest.raises(ComponentError, match=match):
        hfdata.hf_dataset(path, **kwargs)


def test_bad_paths_and_small_vocab_for_a_given_tokenizer(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(ComponentError, match="not a dataset saved with save_to_disk"):
        hfdata.hf_dataset(str(tmp_path / "plain"))
    (tmp_path / "d.xml").write_text("<a/>")
    with pytest.raises(ComponentError, match="no datasets loader for '.xml'"):
        hfdata.hf_dataset(str(tmp_path / "d.xml"))
    tok_file = tmp_path / "tok.json"
    tok_file.write_text(fast_bpe.train_tokenizer(_rows(10), vocab=300).to_str())
    with pytest.raises(ComponentError, match="has 300 ids, more than vocab=64.*\n.*vocab=300"):
        hfdata.hf_dataset(str(_jsonl(tmp_path / "d.jsonl", _rows(10))), vocab=64,
                          tokenizer_path=str(tok_file))


@pytest.mark.slow
def test_a_model_trains_on_an_hf_dataset_component(tmp_path, monkeypatch):
    """A spec names the jsonl (relative to the spec); the model's loss on it falls well below the
    uniform-guess loss log(vocab) within 40 steps."""
    from patternlang.api import run

    _jsonl(tmp_path / "tiny.jsonl", _rows(300))
    (tmp_path / "t.pat").write_text(
        'model tiny = attn_only(layers=1, heads=2, d_model=16, context=16, vocab=64)\n'
        'data text = hf_dataset("tiny.jsonl", column="text", vocab=64, length=16)\n'
        "mixture base = {text: 1.0}\n"
        "train fit { model = tiny  data = base  steps = 40  batch = 16  optimizer = adamw(lr=1e-2) }\n")
    torch.set_num_threads(1)
    monkeypatch.setenv("PATTERNLANG_WORKERS", "1")
    res = run(tmp_path / "t.pat", tmp_path / "run", device="cpu")
    final = res.data["train"]["train.fit"]["final_loss"]["0"]
    assert final < math.log(64) - 1.0, final
