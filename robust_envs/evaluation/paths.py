"""
Output paths of a robustness report, checked before anything is computed or written.

One rule for every writer: :meth:`~robust_envs.evaluation.report.RobustnessReport.to_csv`, ``to_json``, the two
plots and the command line's ``--csv``/``--json``/``--heatmap``/``--bars`` all call :func:`check_output_path`, so a
path that cannot be written (or an image path matplotlib would silently rename) is refused before a file is touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def check_output_path(path: Any, label: str = "path", image: bool = False) -> Path:
    """
    Check that ``path`` names a file that can be written, before anything is written to it.

    :param path: the file to write (a ``str`` or an ``os.PathLike``)
    :param label: how the caller names the path in messages (``"--csv"``, ``"to_json path"``, ...)
    :param image: the file is a plot: its suffix must be an image format matplotlib can save
        (matplotlib would otherwise save ``report`` as ``report.png`` and a folder ``out`` as ``out.png``)
    :return: the path
    :raises TypeError: ``path`` is not a ``str`` or an ``os.PathLike``
    :raises ValueError: an empty name, a folder, a parent folder that is missing, not a folder or not writable,
        a file that exists and is not writable, or (``image``) a suffix that is not an image format; the message
        names the path and the fix
    :raises ImportError: ``image`` and matplotlib is missing (the message says how to install it)
    """
    if isinstance(path, bytes) or not isinstance(path, str | os.PathLike):
        raise TypeError(f"{label} must be a file name (a str or a pathlib.Path), got {path!r} ({type(path).__name__})")
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{label} needs a file name, got {text!r}")
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{label} {path} is a folder; give a file name inside it (e.g. {path / 'report'}.*)")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ValueError(f"{label} {path}: the folder {folder} {what}; create it first or choose another path")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{label} {path}: the folder {folder} is not writable; choose another path")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{label} {path} exists and is not writable; choose another path")
    if image:
        from robust_envs.evaluation.plots import image_formats

        formats = image_formats()
        if path.suffix.lower().lstrip(".") not in formats:
            suffix = repr(path.suffix) if path.suffix else "no suffix"
            allowed = ", ".join(f".{f}" for f in sorted(formats))
            raise ValueError(f"{label} {path} has {suffix}, not an image format; use one of {allowed} (e.g. {path.stem}.png)")
    return path
