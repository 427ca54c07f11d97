# Does the finite-difference check agree with the covariance chi at smaller SGLD steps? (issue 12)
#
# specs/quickstart.pat's susceptibility at step 100 (chi_spec), and at ε/2 and ε/4 of its 3e-4, each
# with a burn-in of at least one localization time 2/(εγ) and the draws scaled so each chain covers
# the same number of localization times. For a Gaussian the covariance formula over-states the
# response of a direction with curvature a by 1/(1 - εa/4) (SGLD's stationary variance), while the
# re-sampled mean response has no such bias, so the ratio fd ÷ cov should rise toward 1 as ε falls
# (docs/sampler.md, "Finite differences and the step size").
#   patc run examples/quickstart/fd_step.pat --out runs/fd_step
use stdlib.lm
use stdlib.core

model tiny = attn_only(layers=2, heads=4, d_model=64, context=32, vocab=64)

data repeats = repeated_spans(vocab=64, length=32, period=8)
data markov  = markov_text(vocab=64, length=32, order=1)
data uniform = uniform_tokens(vocab=64, length=32)
mixture base = {repeats: 0.35, markov: 0.45, uniform: 0.2}

train pretrain {
  model = tiny
  data = base
  steps = 500
  batch = 32
  optimizer = adamw(lr=1e-2, weight_decay=0.05)
  checkpoints = [100]
}

sampler spec { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }
sampler half { step = 1.5e-4  nbeta = 100  gamma = 100  chains = 4  draws = 120  thin = 2  burnin = 200  batch = 32 }
sampler quarter { step = 7.5e-5  nbeta = 100  gamma = 100  chains = 4  draws = 240  thin = 2  burnin = 400  batch = 32 }

## Induction score of each layer-1 head (one value per head).
observable ih = induction_score(layer=1, heads=*, period=8)
## Previous-token score of each layer-0 head.
observable prev = previous_token_score(layer=0, heads=*)

susceptibility chi_spec {
  at = pretrain.step(100)
  sampler = spec
  observe = [ih, prev, loss(repeats), loss(markov)]
  check = finite_difference(repeats, delta=0.05)
}

susceptibility chi_half {
  at = pretrain.step(100)
  sampler = half
  observe = [ih, prev, loss(repeats), loss(markov)]
  check = finite_difference(repeats, delta=0.05)
}

susceptibility chi_quarter {
  at = pretrain.step(100)
  sampler = quarter
  observe = [ih, prev, loss(repeats), loss(markov)]
  check = finite_difference(repeats, delta=0.05)
}
