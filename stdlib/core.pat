# stdlib.core: samplers and observables that any model has.

## Localized SGLD settings for small models on a CPU: quick, for a first look. nbeta = 100 (well
## above B/log B) so the loss term, not the localization, shapes the posterior: with nbeta = auto
## the measured chi of the induction experiments could not be told from zero. The step is half the
## quickstart's 3e-4: there the LLC is the same (35.7 vs 36.1) but the covariance chi of the loss
## rows is inflated by the step (finite differences give 0.27 of it; 0.77 at this step), and the
## burn-in is one localization time 2/(step*gamma) (docs/sampler.md, "The step and chi").
sampler quick { step = 1.5e-4  nbeta = 100  gamma = 100  chains = 4  draws = 120  thin = 2  burnin = 200  batch = 32 }

## Localized SGLD settings for numbers you report: the step chosen by a scan where the LLC and the
## targeted chi rows stop depending on it, and draws until the targeted rows are resolved (|z| >= 3)
## or 2000 are spent; 8 chains for R-hat.
sampler careful { step = auto  nbeta = 100  gamma = 100  chains = 8  draws = auto(z=3, max=2000, chunk=200)  burnin = 200  batch = 32 }

## The local learning coefficient (LLC) at each draw: model complexity around the checkpoint.
observable complexity = llc()

## Mean loss on one data component's probe set.
observable component_loss(c) = loss(c)

## How much more the model loses on component `a` than on `b` (positive: `a` is harder).
observable loss_gap(a, b) = loss(a) - loss(b)
