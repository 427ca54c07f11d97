# Validation of induction_delay.pat (docs/validation.md): the same spec (the same training, chi,
# solve and arms), verified also against 12 random steps of the patterned step's length and a regression arm
# (8 proxy trainings at equal compute). Results: examples/induction_delay/README.md.
use stdlib.lm
use stdlib.core

model net = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=256)

data spans  = repeated_spans(vocab=256, length=32, period=8)
data text   = markov_text(vocab=256, length=32, order=1)
data code_  = python_code(vocab=256, length=32)
data prose_ = python_prose(vocab=256, length=32)
mixture base = {code_: 0.3, prose_: 0.2, spans: 0.4, text: 0.1}

train pretrain {
  model = net
  data = base
  steps = 150
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [150]
}

## nbeta well above B/log B (9.2) so the loss term, not the localization, shapes the posterior.
sampler local { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility chi {
  at = pretrain.step(150)
  sampler = local
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  ## the rows the patterning moves: paired runs at (1 -/+ 0.05)h +/- 0.05 e_k, 16 chains x 20 draws (three free directions: Hotelling needs the chains)
  estimator = coupled(delta=0.05, chains=16, draws=20)
}

patterning delay {
  from = chi
  lower mean(ih) by 0.1
  hold loss(code_) weight 0.5
  hold loss(prose_) weight 0.5
  subject to {
    weight(text) >= 0.02
    kl(base) <= 0.05
  }
}

verify delay {
  arms = [baseline, patterned, opposite, control, orthogonal, random(12), regression(8)]
  seeds = 3
  steps = 500
  start = scratch
  every = 25
  onset mean(ih) >= 0.3
}

output { formats = [md, json] }
