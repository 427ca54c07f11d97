# stdlib.core: samplers and observables that any model has.

## Localized SGLD settings for small models on a CPU: quick, for a first look. nbeta = 100 (well
## above B/log B) so the loss term, not the localization, shapes the posterior: with nbeta = auto
## the measured chi of the induction experiments could not be told from zero.
sampler quick { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Localized SGLD settings for publishable numbers: more chains and draws, smaller steps.
sampler careful { step = 3e-4  nbeta = auto  gamma = 1000  chains = 8  draws = 400  burnin = 100  batch = 64 }

## The local learning coefficient (LLC) at each draw: model complexity around the checkpoint.
observable complexity = llc()

## Mean loss on one data component's probe set.
observable component_loss(c) = loss(c)

## How much more the model loses on component `a` than on `b` (positive: `a` is harder).
observable loss_gap(a, b) = loss(a) - loss(b)
