"""A new user's task (issue 26): (a + b) mod 13 and (a - b) mod 13 for a tiny MLP, a memorisation
set of random labels, and held-out pairs the model never trains on.

Each example is three tokens ``[a, op, b]`` with the answer as a class label (``task = "classify"``).
The pairs are split once (seeded): ``part="train"`` holds 70 % of them, ``part="test"`` the rest.
"""

import torch
from torch import nn

from patternlang.data.component import ExampleComponent

P = 13
ADD, SUB = P, P + 1


class MLP(nn.Module):
    """Embed the three tokens, concatenate, one hidden layer, P classes."""

    task = "classify"
    vocab = P + 2
    context = 3

    def __init__(self, width: int = 32):
        super().__init__()
        self.embed = nn.Embedding(P + 2, width)
        self.net = nn.Sequential(nn.Linear(3 * width, width), nn.ReLU(), nn.Linear(width, P))

    def forward(self, tokens, return_attention=False):
        return self.net(self.embed(tokens).flatten(1))


#: the width of every model built in this process (the tests read it)
BUILT: list[int] = []


def mlp(width: int = 32) -> MLP:
    BUILT.append(width)
    return MLP(width)


def pairs(op: str = "add", part: str = "train", frac: float = 0.7) -> ExampleComponent:
    """The pairs of ``op`` (``add``, ``sub``, or ``memo``: additions with random labels) in
    ``part`` (``train`` or ``test``) of a seeded split."""
    g = torch.Generator().manual_seed(0)
    a, b = (x.flatten() for x in torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij"))
    perm = torch.randperm(P * P, generator=g)
    cut = int(frac * P * P)
    idx = perm[:cut] if part == "train" else perm[cut:]
    a, b = a[idx], b[idx]
    label = (a - b) % P if op == "sub" else (a + b) % P
    if op == "memo":
        label = torch.randint(0, P, label.shape, generator=g)
    tokens = torch.stack([a, torch.full_like(a, SUB if op == "sub" else ADD), b], 1)
    return ExampleComponent(op, {"tokens": tokens, "label": label}, task="classify", vocab_size=P + 2)
