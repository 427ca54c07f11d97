"""Front-end tests run against the real primitive registry."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
