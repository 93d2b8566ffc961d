"""``python -m robust_envs``: the ``robust-rl`` command line."""

import sys

from robust_envs.cli import main

if __name__ == "__main__":
    sys.exit(main())
