"""Sphinx configuration of the robust-rl documentation (``make docs``)."""

from __future__ import annotations

import doctest
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the packages (also installed editable) and benchmarks/
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

# headless: MuJoCo's GLFW import warns without a display (nothing here renders)
warnings.filterwarnings("ignore", message=".*DISPLAY environment variable.*")

from robust_envs.version import __version__  # noqa: E402

project = "robust-rl"
author = "the robust-rl authors"
copyright = "the robust-rl authors"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "robust_docs",
]

exclude_patterns = ["_build"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"robust-rl {release}"
html_static_path: list[str] = []

# ---- autodoc: every object documented once, in the module that defines it ----
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
python_use_unqualified_type_names = True

# ---- doctest: the examples run at tiny budgets on the CPU (one torch thread: more only spin on 2 cores) ----
# SB3 makes a folder SB3-<date> in the system's temporary directory at every learn() without a logger: the examples'
# share one under the (ignored) build folder instead
os.environ.setdefault("SB3_LOGDIR", str(ROOT / "docs" / "_build" / "sb3-logs"))
doctest_global_setup = """
import warnings
warnings.filterwarnings("ignore")
import numpy as np
np.set_printoptions(precision=4, suppress=True)
try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    pass
"""
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
