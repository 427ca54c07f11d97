"""The causal (decoder-style) parentheses classifier: prefix-only attention, class at the last bracket."""

import torch

from patternlang.models import ParensTransformer

PAD, OPEN, CLOSE, CLS = 0, 1, 2, 3


def _net(causal: bool) -> ParensTransformer:
    torch.manual_seed(0)
    return ParensTransformer(d_model=16, n_layers=2, n_heads=2, d_mlp=16, context=12, seed=1,
                             causal=causal)


def test_causal_attention_is_lower_triangular():
    tokens = torch.tensor([[CLS, OPEN, OPEN, CLOSE, CLOSE, PAD, PAD]])
    _, att = _net(True)(tokens, return_attention=True)
    upper = att[..., :5, :5].triu(diagonal=1)
    assert float(upper.abs().max()) == 0.0
    _, att_bi = _net(False)(tokens, return_attention=True)
    assert float(att_bi[..., :5, :5].triu(diagonal=1).abs().max()) > 0.01


def test_causal_reads_the_last_real_token_and_ignores_padding():
    net = _net(True).eval()
    s = [CLS, OPEN, CLOSE, CLOSE, OPEN]
    padded = torch.tensor([s + [PAD] * 4])
    short = torch.tensor([s])
    assert torch.allclose(net(padded), net(short), atol=1e-6)
    # the class depends on the whole string: changing the first bracket changes it
    other = torch.tensor([[CLS, CLOSE, CLOSE, CLOSE, OPEN]])
    assert not torch.allclose(net(short), net(other), atol=1e-4)


def test_causal_batch_with_different_lengths_matches_one_by_one():
    net = _net(True).eval()
    rows = [[CLS, OPEN, CLOSE], [CLS, OPEN, OPEN, CLOSE, CLOSE, OPEN, CLOSE]]
    width = 8
    batch = torch.tensor([r + [PAD] * (width - len(r)) for r in rows])
    together = net(batch)
    for i, r in enumerate(rows):
        assert torch.allclose(together[i], net(torch.tensor([r]))[0], atol=1e-5)
