# The paper's size of specs/induction_accelerate.pat (Wang & Murfet 2026: 2 layers x 8 heads,
# d_model 256, context 1024, BPE vocab 5000). Compiles (tests/frontend checks it); sized for a GPU,
# not run on the CPU machine: the mixture weights, steps and onset threshold of the CPU spec were
# tuned for the small model and must be re-tuned at this size (train a baseline, find its onset).
# Run: patc run specs/paper/induction_accelerate.pat --device cuda
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=8, d_model=256, context=1024, vocab=5000)

data spans  = repeated_spans(vocab=5000, length=1024, period=8)
data text   = markov_text(vocab=5000, length=1024, order=1)
data code_  = python_code(vocab=5000, length=1024)
data prose_ = python_prose(vocab=5000, length=1024)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.35, text: 0.15}

train pretrain {
  model = net
  data = base
  steps = 150
  batch = 16
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [150]
}

## nbeta well above B/log B so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 16 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility early {
  at = pretrain.step(150)
  sampler = local
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  probe = 64
  check = finite_difference(spans, code_, delta=0.05)
}

patterning accelerate {
  from = early
  raise mean(ih) by 0.1
  hold loss(code_) weight 0.5
  hold loss(prose_) weight 0.5
  subject to {
    weight(code_) + weight(prose_) >= 0.3
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

verify accelerate {
  arms = [baseline, patterned, control]
  seeds = 3
  steps = 600
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
