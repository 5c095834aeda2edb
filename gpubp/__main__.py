"""``python -m gpubp``: the gpubp command."""

import sys

from .cli import main

sys.exit(main())
