"""`python -m polyforge.cli`: the same app as the `polyforge` command."""

import sys

from polyforge.cli import main

# Guarded: the in-process vllm backend spawns an engine process, which imports this module again.
if __name__ == "__main__":
    sys.exit(main())
