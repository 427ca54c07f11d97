"""Front-end tests run against the real primitives where they exist, fakes otherwise."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import fake_primitives  # noqa: E402

fake_primitives.install()
