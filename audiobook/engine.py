"""The old name of `audiobook.engines` (engine.py became a package): code written against
`audiobook.engine` keeps working, on the very same module object."""

import sys

from . import engines

sys.modules[__name__] = engines
