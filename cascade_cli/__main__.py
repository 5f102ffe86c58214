"""``python -m cascade_cli``: the same as the ``cascade`` command."""

import sys

from .cli import main

sys.exit(main())
