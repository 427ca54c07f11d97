"""Localized SGLD and what is estimated from its draws (see docs/sampler.md).

``sgld`` runs the chains (``chain_loss`` evaluates the loss of all chains at once, ``restrict`` masks
parameters), ``result`` holds what a run returns, ``llc``/``llc_moments`` estimate the local learning
coefficient, ``diagnostics`` checks the chains (R-hat, trend, divergences).
"""
