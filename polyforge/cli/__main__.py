"""`python -m polyforge.cli`: the same app as the `polyforge` command."""

import sys

from polyforge.cli import main

sys.exit(main())
