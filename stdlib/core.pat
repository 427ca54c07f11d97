# stdlib.core: samplers and observables that any model has.

## Localized SGLD settings for small models on a CPU: quick, for a first look. nbeta = 100 (well
## above B/log B) so the loss term, not the localization, shapes the posterior: with nbeta = auto
## the measured chi of the induction experiments could not be told from zero. Half this step was
## measured against it (issue 12, docs/sampler.md "The step and chi"): the LLC is the same, the
## finite-difference check agrees better on the quickstart and worse on induction_delay, and
## induction_delay's outcome reverses; so the step stays (careful, below, adds chains and draws).
sampler quick { step = 3e-4  nbeta = 100  gamma = 100  chains = 4  draws = 60  thin = 2  burnin = 100  batch = 32 }

## Localized SGLD settings for numbers you report: quick's step with 8 chains, and draws until the
## targeted chi rows are resolved (|z| >= 3) or 1000 are spent. Not step = auto: on the quickstart
## its scan picks 1.25e-3, where the LLC has plateaued but the loss rows of chi are inflated by the
## step (finite differences give 0.30 of them). More draws do not rescue an unresolved target
## row: on the quickstart this sampler reverses the patterning too, and says the row is unresolved.
sampler careful { step = 3e-4  nbeta = 100  gamma = 100  chains = 8  draws = auto(z=3, max=1000, chunk=200)  thin = 2  burnin = 100  batch = 32 }

## The local learning coefficient (LLC) at each draw: model complexity around the checkpoint.
observable complexity = llc()

## Mean loss on one data component's probe set.
observable component_loss(c) = loss(c)

## How much more the model loses on component `a` than on `b` (positive: `a` is harder).
observable loss_gap(a, b) = loss(a) - loss(b)
