"""One runner per plan step kind; importing this package registers them with the executor."""

from patternlang.runtime.steps import (observe, report, rounds, sample,  # noqa: F401
                                       susceptibility, train, verify)
