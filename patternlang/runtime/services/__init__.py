"""The runtime's services: what more than one step kind uses, below the runners (``steps/``) and
above the runtime's base (context, results, run directory, options).

* :mod:`.build`: models, data components, seeds, checkpoints (selection, loading), evaluation.
* :mod:`.sampling`: every SGLD run of the runtime (``sgld_config``, minibatches, chain groups,
  worker counts, the sample step as it ran).
* :mod:`.training`: ``train_one``, one seed of a train step (train, solve rounds, verification).
* :mod:`.mixtures`: a step's mixture, verification arms' weights, per-sample pool weights.
* :mod:`.chi`: χ from co-moments (``combine``, pools, principal directions, FD contradictions).
* :mod:`.rows`: the solve's rows (``Rows``), targets as linear functionals, one solve.
* :mod:`.target_rows`: the χ rows a sample step's targets read (``draws = auto``, ``step = auto``).
* :mod:`.coupled`: the coupled estimator's paired runs (susceptibility, FD check, posterior check).
"""
