# Does the finite-difference check agree with the covariance chi at half the step? (issue 12)
#
# specs/induction_delay.pat's susceptibility at step 100 at the spec's step 3e-4 (chi_spec) and at
# 1.5e-4 (chi_half: burn-in one localization time 2/(step*gamma) = 133 -> 200, twice the draws),
# each with the spec's finite-difference check; no patterning or verification. The quickstart's
# version is examples/quickstart/fd_step.pat.
#   patc run examples/induction_delay/fd_step.pat --out runs/delay_fd_step
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
  steps = 100
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [100]
}

sampler spec { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }
sampler half { step = 1.5e-4  nbeta = 100  gamma = 100  chains = 4  draws = 120  thin = 2  burnin = 200  batch = 32 }

## Induction score of each layer-1 head.
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable pt = previous_token_score(layer=0, heads=*)

susceptibility chi_spec {
  at = pretrain.step(100)
  sampler = spec
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  check = finite_difference(spans, text, delta=0.05)
}

susceptibility chi_half {
  at = pretrain.step(100)
  sampler = half
  observe = [ih, pt, loss(spans), loss(code_), loss(prose_), loss(text)]
  check = finite_difference(spans, text, delta=0.05)
}
