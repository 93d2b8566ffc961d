"""
Side-by-side clips of two policies in one perturbed env (``robust-rl video``).

:func:`record_side_by_side` runs a robust policy (left panel) and a baseline (right panel) in two copies of the same
env id with the same parameters and the same reset seed, renders both (``render_mode="rgb_array"``), labels each panel
and writes an MP4 (imageio with imageio-ffmpeg) or a GIF (Pillow). :func:`side_by_side_frames` gives the frames
instead. A panel whose episode ends (the env terminates or its time limit truncates it) stays on its last frame,
marked, until the clip ends, so the clip always lasts ``seconds``.

To hook the command into a parser: :func:`add_video_subcommand` adds ``video`` to an ``add_subparsers()`` object and
:func:`run_video` runs the parsed arguments. Policies are callables ``obs -> action`` or SB3-style models
(:func:`~robust_envs.evaluation.as_policy`); the command line loads model files with the loader of
``robust-rl evaluate --policy`` (torch and SB3 are imported only then).

Rendering needs an OpenGL context: without a display, set ``MUJOCO_GL=egl`` (or ``osmesa``) before MuJoCo and
dm_control are imported; :func:`use_headless_gl` does it when no display is set.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Clip formats, by file suffix.
FORMATS = (".mp4", ".gif")
#: The frame rate a clip aims at: a frame every ``round(env_fps / fps)`` env steps, played back in real time.
DEFAULT_FPS = 25.0
#: Panel labels when none are given.
DEFAULT_LABELS = ("robust", "baseline")

_HEADLESS_BACKENDS = ("egl", "osmesa")
# label colours: normal text, an episode that terminated, one that reached its time limit
_TEXT, _FELL, _TIMED_OUT = (255, 255, 255), (255, 96, 96), (255, 200, 80)


def use_headless_gl(backend: str = "egl") -> str | None:
    """
    Choose MuJoCo's OpenGL backend for rendering without a display.

    Sets ``MUJOCO_GL=backend`` when ``MUJOCO_GL`` is unset and neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` is (without
    it MuJoCo tries GLFW, which needs a display). Gymnasium's MuJoCo renderer reads the variable when it first renders;
    dm_control (the suite envs) reads it when it is first imported, so call this before that.

    :param backend: ``"egl"`` (Mesa's or a GPU's EGL) or ``"osmesa"`` (software; needs libOSMesa)
    :return: the ``MUJOCO_GL`` in effect, ``None`` if unset (a display is there)
    :raises ValueError: an unknown ``backend``
    """
    if backend not in _HEADLESS_BACKENDS:
        raise ValueError(f"backend must be one of {_HEADLESS_BACKENDS}, got {backend!r}")
    if not os.environ.get("MUJOCO_GL") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["MUJOCO_GL"] = backend
        render = sys.modules.get("dm_control._render")
        if render is not None and getattr(render, "BACKEND", None) != backend:
            warnings.warn(
                f"dm_control was imported before MUJOCO_GL was set and uses the OpenGL backend {render.BACKEND!r}: the "
                f"suite envs cannot render without a display; set MUJOCO_GL={backend} before starting Python",
                stacklevel=2,
            )
    return os.environ.get("MUJOCO_GL") or None


# ---- checks -----------------------------------------------------------------------------------------------------
def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0 (both panels reset with it), got {seed!r}")
    return int(seed)


def _check_labels(labels: Any) -> tuple[str, str] | None:
    if labels is None:
        return None
    if isinstance(labels, str) or not isinstance(labels, Sequence) or len(labels) != 2:
        raise ValueError(f"labels must be two strings (left panel, right panel), got {labels!r}")
    if not all(isinstance(label, str) for label in labels):
        raise ValueError(f"labels must be two strings (left panel, right panel), got {labels!r}")
    return labels[0], labels[1]


def check_clip_path(out: Any, label: str = "out") -> Path:
    """
    Check a clip's output path before anything runs.

    :param out: the file to write, ending in ``.mp4`` or ``.gif``
    :param label: how messages name the path (``"--out"`` on the command line)
    :return: the path
    :raises ValueError: another suffix, or a path that cannot be written (see
        :func:`~robust_envs.evaluation.paths.check_output_path`)
    :raises TypeError: not a ``str`` or ``os.PathLike``
    """
    from robust_envs.evaluation.paths import check_output_path

    path = check_output_path(out, label)
    if path.suffix.lower() not in FORMATS:
        suffix = repr(path.suffix) if path.suffix else "no suffix"
        raise ValueError(f"{label} {path} has {suffix}; a clip is one of {', '.join(FORMATS)} (e.g. {path.stem}.mp4)")
    return path


def _check_env_kwargs(env_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    if env_kwargs is None:
        return {}
    if not isinstance(env_kwargs, Mapping):
        raise ValueError(f"env_kwargs must be a mapping of gym.make arguments, got {env_kwargs!r}")
    taken = sorted({"params", "render_mode"} & set(env_kwargs))
    if taken:
        raise ValueError(
            f"env_kwargs must not hold {taken} (the clip sets render_mode='rgb_array'; pass parameters as params), "
            f"got {dict(env_kwargs)!r}"
        )
    return dict(env_kwargs)


# ---- frames -----------------------------------------------------------------------------------------------------
class _Panel:
    """One policy's episode in its own env: steps, return, how it ended, and its labelled frames."""

    def __init__(self, env: Any, policy: Any, label: str | None, dt: float, seed: int) -> None:
        self.env, self.policy, self.label, self.dt = env, policy, label, dt
        self.obs, _ = env.reset(seed=seed)
        self.total, self.steps = 0.0, 0
        self.ended: str | None = None  # "fell" (terminated) or "time limit" (truncated)
        self._last: np.ndarray | None = None
        self._frozen = False  # the last frame of an ended episode is rendered

    def advance(self, steps: int) -> None:
        for _ in range(steps):
            if self.ended is not None:
                return
            self.obs, reward, terminated, truncated, _ = self.env.step(self.policy(self.obs))
            self.total += float(reward)
            self.steps += 1
            if terminated or truncated:
                self.ended = "fell" if terminated else "time limit"

    def frame(self, time: float) -> np.ndarray:
        if not self._frozen:
            image = self.env.render()
            if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3):
                got = getattr(image, "shape", type(image).__name__)
                raise RuntimeError(f"{self.env.spec.id} rendered {got}, not an (height, width, 3) RGB array")
            self._last = np.ascontiguousarray(image, dtype=np.uint8)
            self._frozen = self.ended is not None
        last = self._last
        assert last is not None  # rendered above on the first call
        if self.label is None:
            return last.copy()
        lines = [(self.label, _TEXT), (f"t = {time:.2f} s   return {self.total:.0f}", _TEXT)]
        if self.ended is not None:
            lines.append((f"{self.ended} at {self.steps * self.dt:.2f} s", _FELL if self.ended == "fell" else _TIMED_OUT))
        return _draw_lines(last, lines)


def _draw_lines(image: np.ndarray, lines: Sequence[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """:return: ``image`` with the lines written in its top-left corner on a dark box (unlabelled without Pillow)."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:  # Pillow comes with imageio (gymnasium[mujoco]); without it the panels go unlabelled
        return image.copy()
    height = image.shape[0]
    size = max(10, round(height / 22))
    try:
        font: Any = ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    pad, y = max(2, size // 4), max(2, size // 4)
    boxes = [draw.textbbox((0, 0), text, font=font) for text, _ in lines]
    width = max(box[2] for box in boxes) + 2 * pad
    line_height = max(box[3] for box in boxes) + pad
    draw.rectangle((0, 0, width, y + line_height * len(lines) + pad), fill=(0, 0, 0))
    for text, colour in lines:
        draw.text((pad, y), text, fill=colour, font=font)
        y += line_height
    return np.array(picture)


def _clip_timing(dt: float, seconds: float, fps: float) -> tuple[int, int, float]:
    """:return: env steps per frame, number of frames (the reset's included) and the playback rate (real time)."""
    stride = max(1, round(1.0 / (dt * fps)))
    n_frames = round(seconds / dt) // stride + 1
    return stride, n_frames, 1.0 / (dt * stride)


class _SideBySide:
    """The two panels of a clip, their timing, and an iterator over the joined frames."""

    def __init__(
        self,
        robust: Any,
        baseline: Any,
        env_id: str,
        params: Any,
        seconds: float,
        seed: int,
        env_kwargs: Mapping[str, Any] | None,
        labels: Sequence[str] | None,
        fps: float,
        deterministic: bool,
    ) -> None:
        from robust_envs.evaluation import as_policy
        from robust_envs.registration import env_class

        seconds, fps, seed = _check_positive("seconds", seconds), _check_positive("fps", fps), _check_seed(seed)
        checked_labels = _check_labels(labels)
        kwargs = _check_env_kwargs(env_kwargs)
        policies = [as_policy(policy, deterministic) for policy in (robust, baseline)]
        env_class(env_id)  # an unknown id: ValueError with the registered ids, before anything is built
        use_headless_gl()
        import gymnasium as gym

        import robust_envs  # noqa: F401  (registers the ids)

        self.envs: list[Any] = []
        try:
            for _ in range(2):
                self.envs.append(gym.make(env_id, params=params, render_mode="rgb_array", **kwargs))
            dt = float(self.envs[0].unwrapped.dt)
            self.stride, self.n_frames, self.fps = _clip_timing(dt, seconds, fps)
            self.panels = []
            names = checked_labels or (None, None)
            for env, policy, label, raw in zip(self.envs, policies, names, (robust, baseline), strict=True):
                # a stochastic callable with seed() (the command line's random policy) is seeded like the env
                if not hasattr(raw, "predict") and callable(getattr(raw, "seed", None)):
                    raw.seed(seed)
                self.panels.append(_Panel(env, policy, label, dt, seed))
        except BaseException:
            self.close()
            raise

    def __iter__(self) -> Iterator[np.ndarray]:
        dt = self.panels[0].dt
        for index in range(self.n_frames):
            if index:
                for panel in self.panels:
                    panel.advance(self.stride)
            left, right = (panel.frame(index * self.stride * dt) for panel in self.panels)
            right[:, :1] = 255  # a one-pixel divider
            yield np.concatenate((left, right), axis=1)

    def close(self) -> None:
        for env in self.envs:
            env.close()


def side_by_side_frames(
    robust: Any,
    baseline: Any,
    env_id: str,
    params: Any = None,
    *,
    seconds: float = 10.0,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    labels: Sequence[str] | None = DEFAULT_LABELS,
    fps: float = DEFAULT_FPS,
    deterministic: bool = True,
) -> tuple[list[np.ndarray], float]:
    """
    The frames of a side-by-side clip, in memory (:func:`record_side_by_side` streams them to a file instead).

    Both policies run in their own ``gym.make(env_id, params=params, render_mode="rgb_array", **env_kwargs)``, reset
    with ``seed``. A frame is taken at the reset and then every ``round(1 / (env.dt * fps))`` env steps, for
    ``round(seconds / env.dt)`` steps in all.

    :param robust: the left panel's policy: a callable ``obs -> action`` or an SB3-style model (``predict``)
    :param baseline: the right panel's policy, likewise
    :param env_id: a robust env id
    :param params: the perturbation both panels run with (a mapping, partial: the others nominal, or a full vector);
        ``None``: nominal
    :param seconds: simulated time of the clip
    :param seed: both episodes' reset seed
    :param env_kwargs: other ``gym.make`` arguments, e.g. ``{"keep_mass": True, "width": 240, "height": 240}``
    :param labels: the two panels' labels, written in their top-left corners with the time, the return so far and how
        the episode ended (``None``: no text)
    :param fps: the frame rate aimed at (the clip plays in real time at ``1 / (env.dt * steps per frame)``)
    :param deterministic: an SB3 model's ``predict(..., deterministic=...)``
    :return: the frames (``(height, 2 * width, 3)`` uint8, robust left) and the playback frame rate
    :raises ValueError: an unknown env id, bad parameters, ``seconds`` or ``fps`` not > 0, a negative seed, labels
        that are not two strings, ``env_kwargs`` with ``params`` or ``render_mode``
    """
    clip = _SideBySide(robust, baseline, env_id, params, seconds, seed, env_kwargs, labels, fps, deterministic)
    try:
        return list(clip), clip.fps
    finally:
        clip.close()


def _even(frame: np.ndarray) -> np.ndarray:
    """``frame`` padded to even height and width (H.264's 4:2:0 colour needs them)."""
    pad_rows, pad_cols = frame.shape[0] % 2, frame.shape[1] % 2
    return np.pad(frame, ((0, pad_rows), (0, pad_cols), (0, 0))) if pad_rows or pad_cols else frame


def _has_ffmpeg() -> bool:
    import importlib.util

    return importlib.util.find_spec("imageio_ffmpeg") is not None


def write_clip(frames: Iterable[np.ndarray], out: Any, fps: float) -> Path:
    """
    Write frames as an MP4 (imageio with imageio-ffmpeg, H.264) or a GIF (Pillow), by the suffix of ``out``.

    Without imageio-ffmpeg an ``.mp4`` path is written as a GIF next to it (same name, ``.gif``), with a warning.

    :param frames: ``(height, width, 3)`` uint8 frames, all of one shape (an iterator is consumed as it is written)
    :param out: the file, ending in ``.mp4`` or ``.gif``
    :param fps: playback frames per second
    :return: the path written
    :raises ValueError: a bad path or suffix, ``fps`` not > 0, no frames, or frames of different shapes
    """
    path = check_clip_path(out)
    fps = _check_positive("fps", fps)
    if path.suffix.lower() == ".mp4" and not _has_ffmpeg():
        gif = check_clip_path(path.with_suffix(".gif"))
        warnings.warn(
            f"imageio-ffmpeg is not installed, so {path} cannot be written as MP4: writing {gif} instead "
            "(pip install imageio-ffmpeg for MP4)",
            stacklevel=2,
        )
        path = gif
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError(f"no frames to write to {path}")
    shape = np.shape(first)

    def checked() -> Iterator[np.ndarray]:
        for frame in itertools.chain((first,), iterator):
            frame = np.asarray(frame)
            if frame.shape != shape or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(
                    f"frames must all be (height, width, 3) uint8 of the first one's shape {shape}, "
                    f"got {frame.shape} {frame.dtype}"
                )
            yield frame

    if path.suffix.lower() == ".mp4":
        import imageio.v2 as imageio

        # macro_block_size=1: no rescaling; _even pads odd sizes by a pixel instead
        writer = imageio.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264", macro_block_size=1)
        try:
            for frame in checked():
                writer.append_data(_even(frame))
        finally:
            writer.close()
    else:
        from PIL import Image

        # GIF frames are palette images: quantised one by one (a frame's palette fits its own colours)
        images = [Image.fromarray(frame).quantize(256, method=Image.Quantize.MEDIANCUT) for frame in checked()]
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000.0 / fps), loop=0)
    return path


def record_side_by_side(
    robust: Any,
    baseline: Any,
    env_id: str,
    out: Any,
    params: Any = None,
    *,
    seconds: float = 10.0,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    labels: Sequence[str] | None = DEFAULT_LABELS,
    fps: float = DEFAULT_FPS,
    deterministic: bool = True,
) -> Path:
    """
    Write a side-by-side clip: ``robust`` left, ``baseline`` right, same env id, parameters and reset seed.

    The arguments are those of :func:`side_by_side_frames`; the frames go to :func:`write_clip` as they are rendered.

    :param out: the file, ``.mp4`` (GIF next to it without imageio-ffmpeg) or ``.gif``; checked before anything runs
    :return: the path written
    """
    check_clip_path(out)
    clip = _SideBySide(robust, baseline, env_id, params, seconds, seed, env_kwargs, labels, fps, deterministic)
    try:
        return write_clip(iter(clip), out, clip.fps)
    finally:
        clip.close()


# ---- command line -------------------------------------------------------------------------------------------------
def add_video_subcommand(subparsers: Any) -> argparse.ArgumentParser:
    """
    Add ``video`` to a command line's subcommands.

    :param subparsers: what ``ArgumentParser.add_subparsers()`` returned
    :return: the ``video`` parser; run parsed arguments with :func:`run_video`
    """
    parser = subparsers.add_parser(
        "video",
        help="write a side-by-side clip of a robust policy and a baseline under one perturbation",
        description=(
            "Run a robust policy (left) and a baseline (right) in the same env id with the same parameters and reset "
            "seed, and write both, labelled, as one MP4 (needs imageio-ffmpeg; a GIF otherwise) or GIF. A panel whose "
            "episode ends stays on its last frame. Without a display MUJOCO_GL defaults to egl."
        ),
        epilog=(
            "example: robust-rl video --env RobustInvertedPendulum-v0 --params '{\"pole_length\": 2.5}' "
            "--env-kwargs '{\"keep_mass\": true}' --robust mrpo.zip --algo MRPO --baseline ppo.zip "
            "--baseline-algo PPO --seconds 10 --out side_by_side.mp4"
        ),
    )
    parser.add_argument("--env", required=True, metavar="ID", help="the env id (see 'robust-rl envs')")
    for side, where in (("robust", "left"), ("baseline", "right")):
        parser.add_argument(
            f"--{side}",
            required=True,
            metavar="POLICY",
            help=f"the {where} panel's policy: 'zero', 'random' or a model file (with --{side}-algo or --algo)",
        )
        parser.add_argument(f"--{side}-algo", metavar="NAME", help=f"the algorithm that saved the --{side} model file")
        parser.add_argument(f"--{side}-label", metavar="TEXT", help=f"the {where} panel's label (default '{side}: FILE')")
    parser.add_argument(
        "--algo", metavar="NAME", help="the algorithm of both model files, where --robust-algo/--baseline-algo are not given"
    )
    parser.add_argument("--params", metavar="JSON", help="the perturbation, e.g. '{\"pole_length\": 2.5}' or a full list")
    parser.add_argument("--env-kwargs", metavar="JSON", help="other gym.make arguments, e.g. '{\"keep_mass\": true}'")
    parser.add_argument("--seconds", type=float, default=10.0, metavar="S", help="simulated seconds (default 10)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="both panels' reset seed (default 0)")
    parser.add_argument("--fps", type=float, default=DEFAULT_FPS, metavar="F", help="frame rate aimed at (default 25)")
    parser.add_argument("--stochastic", action="store_true", help="sample actions from SB3 models instead of their mode")
    parser.add_argument("--out", required=True, metavar="FILE", help="the clip: FILE.mp4 or FILE.gif")
    return parser


def _json_option(option: str, text: str | None, kinds: tuple[type, ...], expected: str) -> Any:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{option} must be JSON ({expected}), got {text!r}: {error}") from None
    if not isinstance(value, kinds):
        raise ValueError(f"{option} must be {expected}, got {text!r}")
    return value


def _check_model_file(side: str, name: str, algo: str | None, out: Path) -> None:
    """A ``--robust``/``--baseline`` model file must exist, come with its algorithm and not be the clip's path."""
    path = Path(name)
    if not path.exists() and Path(f"{name}.zip").is_file():  # SB3's save adds .zip, and its load accepts the stem
        path = Path(f"{name}.zip")
    if not name.strip() or not path.is_file():
        what = "is a folder" if name.strip() and path.is_dir() else "is not a file"
        raise ValueError(f"--{side} {name!r} {what}; expected 'zero', 'random' or a model file saved by an SB3 algorithm")
    if algo is None:
        raise ValueError(f"--{side} {path} needs --{side}-algo (or --algo): the algorithm that saved it, e.g. PPO or MRPO")
    if path.resolve() in (out.resolve(), out.with_suffix(".gif").resolve()):
        raise ValueError(f"--out {out} would overwrite the --{side} file {path}; write the clip elsewhere")


def run_video(args: argparse.Namespace) -> int:
    """
    Run a parsed ``video`` command: check everything, load the policies, write the clip, print its path.

    :param args: arguments parsed by a parser set up with :func:`add_video_subcommand`
    :return: 0 on success
    :raises ValueError: bad input (unknown env, bad JSON or parameters, a bad output path, an output that would
        overwrite a model file), naming the bad value; nothing is written then
    """
    from robust_envs.cli import BUILTIN_POLICIES, CLIError, _make_policy
    from robust_envs.registration import env_class

    env_class(args.env)
    params = _json_option("--params", args.params, (dict, list), "an object {name: value} or a list of numbers")
    env_kwargs = _json_option("--env-kwargs", args.env_kwargs, (dict,), "an object of gym.make arguments")
    out = check_clip_path(args.out, "--out")
    policies, labels = [], []
    for side in ("robust", "baseline"):
        name, algo = getattr(args, side), getattr(args, f"{side}_algo")
        if name not in BUILTIN_POLICIES:
            algo = algo or args.algo  # the shared --algo is for model files only
            _check_model_file(side, name, algo, out)
        try:
            policies.append(_make_policy(argparse.Namespace(policy=name, algo=algo, env=args.env, seed=args.seed)))
        except CLIError as error:  # the loader of `evaluate` names its own option
            raise CLIError(str(error).replace("--policy", f"--{side}").replace("--algo", f"--{side}-algo")) from None
        labels.append(getattr(args, f"{side}_label") or f"{side}: {Path(name).name}")
    path = record_side_by_side(
        policies[0],
        policies[1],
        args.env,
        out,
        params,
        seconds=args.seconds,
        seed=args.seed,
        env_kwargs=env_kwargs,
        labels=labels,
        fps=args.fps,
        deterministic=not args.stochastic,
    )
    print(f"wrote {path}")
    return 0


__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_LABELS",
    "FORMATS",
    "add_video_subcommand",
    "check_clip_path",
    "record_side_by_side",
    "run_video",
    "side_by_side_frames",
    "use_headless_gl",
    "write_clip",
]
