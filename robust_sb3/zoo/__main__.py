"""``python -m robust_sb3.zoo``: the robust trainers through rl-zoo3 (see :mod:`robust_sb3.zoo`)."""

import sys

from robust_sb3.zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
