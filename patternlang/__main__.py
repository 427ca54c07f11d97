"""``python -m patternlang ...`` is ``patc ...`` (and ``torchrun -m patternlang run SPEC``)."""

import sys

from patternlang.cli import main

sys.exit(main())
