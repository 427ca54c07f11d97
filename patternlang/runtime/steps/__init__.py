"""One runner per plan step kind (``train``, ``observe``, ``sample``, ``susceptibility``, ``solve``,
``verify``, ``report``); the executor imports these modules (:data:`RUNNER_MODULES`) to register
them. Importing the package alone registers nothing, so the runtime's services may import
:mod:`patternlang.runtime.services.build` without pulling in every runner."""

RUNNER_MODULES = ("observe", "report", "rounds", "sample", "susceptibility", "train", "verify")
