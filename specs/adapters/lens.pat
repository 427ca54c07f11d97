# The quickstart (specs/ci/quickstart.pat) on a TransformerLens HookedTransformer: the same data,
# sampler, observables, patterning and verification, CI-sized (tests/experiments/test_adapters_e2e.py
# runs it end to end). Needs `pip install 'patternlang[lens]'`. The attention observables read
# blocks.{l}.attn.hook_pattern through the TransformerLens adapter; restrict the sampler to a head
# with `restrict = ["l1h0"]` as for the stdlib model (same per-head weight layout).
use stdlib.lm
use stdlib.core

model tiny = lens_transformer(layers=2, heads=2, d_model=16, context=16, vocab=64)

data repeats = repeated_spans(vocab=64, length=16, period=4)
data markov  = markov_text(vocab=64, length=16, order=1)
data uniform = uniform_tokens(vocab=64, length=16)
mixture base = {repeats: 0.35, markov: 0.45, uniform: 0.2}

train pretrain {
  model = tiny
  data = base
  steps = 20
  batch = 16
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [10]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 2  draws = 10  thin = 1  burnin = 5  batch = 16 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=4)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(10)
  sampler = local
  observe = [ih, prev, loss(repeats), loss(markov)]
  probe = 16
}

patterning accelerate {
  from = chi
  raise mean(ih) by 0.1 weight 1
  hold loss(markov)
  subject to {
    weight(uniform) >= 0.05
    kl(base) <= 0.05
  }
}

verify accelerate {
  arms = [baseline, patterned, opposite, control]
  seeds = 2
  steps = 30
  start = scratch
  every = 10
  onset mean(ih) >= 0.3
}
