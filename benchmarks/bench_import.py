"""Wall time of `import robust_envs` in a fresh interpreter, against `import gymnasium` (best of several runs)."""

from __future__ import annotations

import subprocess
import sys


def import_time(module: str, runs: int = 7) -> float:
    """:return: the best wall time, in seconds, of importing ``module`` in a new process."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return min(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    )


def main() -> None:
    """Print both import times."""
    gym_time = import_time("gymnasium")
    ours = import_time("robust_envs")
    print(f"import gymnasium  : {gym_time:.3f} s")
    print(f"import robust_envs: {ours:.3f} s (includes gymnasium; registers {len(__import__('robust_envs').ENVS)} ids)")


if __name__ == "__main__":
    main()
