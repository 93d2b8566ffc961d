"""
Rendering: every robust env id gives RGB frames of its documented size without a display, a function of the state
and the geometry; ``robust_envs.video`` joins two policies' frames into one clip.

The OpenGL backend is chosen in ``conftest.py`` (``MUJOCO_GL``, default ``egl``) before MuJoCo and dm_control load. A
backend that cannot render fails these tests with a message saying what to install; they are never skipped.
"""

from __future__ import annotations

import argparse
import os

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from robust_envs import video
from tests.conftest import ROBUST_IDS

#: The documented default frame shape of each id: Gymnasium's MuJoCo envs and the hand 480 x 480 (``width``,
#: ``height``), the suite dm_control's 320 x 240 (``width``, ``height``), the two numpy envs their own drawings.
EXPECTED_SHAPES = {
    **dict.fromkeys(
        (
            "RobustHopper-v0",
            "RobustWalker2d-v0",
            "RobustHalfCheetah-v0",
            "RobustInvertedPendulum-v0",
            "RobustInvertedDoublePendulum-v0",
            "RobustShadowHandCube-v0",
        ),
        (480, 480, 3),
    ),
    **dict.fromkeys(
        (
            "RobustCartpoleBalance-v0",
            "RobustCartpoleSwingup-v0",
            "RobustPendulumSwingup-v0",
            "RobustAcrobotSwingup-v0",
            "RobustHopperHop-v0",
            "RobustHopperStand-v0",
            "RobustWalkerWalk-v0",
            "RobustWalkerRun-v0",
            "RobustCheetahRun-v0",
        ),
        (240, 320, 3),
    ),
    "RobustPendulum-v0": (128, 128, 3),
    "RobustCartPole-v0": (400, 600, 3),
}

#: A perturbation per id: a length or size (the frame must change), or, for envs without one, a density (it must not).
PERTURBATIONS = {
    "RobustHopper-v0": ({"torso_density": 2000.0}, False),
    "RobustWalker2d-v0": ({"torso_density": 2000.0}, False),
    "RobustHalfCheetah-v0": ({"torso_density": 2000.0}, False),
    "RobustInvertedPendulum-v0": ({"pole_length": 0.9}, True),
    "RobustInvertedDoublePendulum-v0": ({"pole1_length": 0.9}, True),
    "RobustPendulum-v0": ({"length": 0.6}, True),
    "RobustCartPole-v0": ({"pole_length": 0.8}, True),
    "RobustShadowHandCube-v0": ({"cube_half_width": 0.035}, True),
    "RobustCartpoleBalance-v0": ({"pole_length": 1.5}, True),
    "RobustCartpoleSwingup-v0": ({"pole_length": 1.5}, True),
    "RobustPendulumSwingup-v0": ({"pole_length": 0.8}, True),
    "RobustAcrobotSwingup-v0": ({"upper_arm_length": 1.5}, True),
    "RobustHopperHop-v0": ({"calf_length": -0.45}, True),
    "RobustHopperStand-v0": ({"calf_length": -0.45}, True),
    "RobustWalkerWalk-v0": ({"thigh_length": 0.35}, True),
    "RobustWalkerRun-v0": ({"thigh_length": 0.35}, True),
    "RobustCheetahRun-v0": ({"torso_length": 0.7}, True),
}


def render(env: gym.Env) -> np.ndarray:
    """``env.render()``, failing with what to install when no OpenGL backend renders."""
    backend = os.environ.get("MUJOCO_GL")
    try:
        frame = env.render()
    except Exception as exc:
        pytest.fail(
            f"{env.spec.id} cannot render headless with MUJOCO_GL={backend!r}: {type(exc).__name__}: {exc}. Rendering "
            "needs an OpenGL backend without a display: EGL (Debian packages libegl1 and libgl1, MUJOCO_GL=egl) or "
            "OSMesa (libosmesa6, MUJOCO_GL=osmesa)"
        )
    assert isinstance(frame, np.ndarray), f"{env.spec.id}.render() returned {type(frame).__name__}"
    return frame


def test_every_id_has_a_documented_frame_shape():
    assert sorted(EXPECTED_SHAPES) == sorted(ROBUST_IDS) == sorted(PERTURBATIONS)


@pytest.mark.parametrize("env_id", ROBUST_IDS)
def test_frames_are_a_function_of_state_and_geometry(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    fresh = gym.make(env_id, render_mode="rgb_array")
    try:
        env.action_space.seed(0)
        env.reset(seed=1)
        render(env)  # the renderer starts in another state than the one compared below
        env.reset(seed=0)
        frame = render(env)
        assert frame.shape == EXPECTED_SHAPES[env_id] and frame.dtype == np.uint8
        assert frame.var() > 0, "blank frame"
        state = env.unwrapped.get_state()
        for _ in range(3):
            env.step(env.action_space.sample())
        assert render(env).shape == frame.shape
        env.unwrapped.set_state(state)
        assert np.array_equal(render(env), frame), "the same state rendered differently after steps and set_state"
        fresh.reset(seed=0)
        assert np.array_equal(render(fresh), frame), "the same state rendered differently by a fresh env"
        # a perturbation for one episode, then back to nominal (the MuJoCo envs swap models, and renderers, each time)
        params, changes_geometry = PERTURBATIONS[env_id]
        env.reset(seed=0, options={"params": params})
        perturbed = render(env)
        assert perturbed.shape == frame.shape
        assert np.array_equal(perturbed, frame) != changes_geometry, f"{params} changed the frame: {changes_geometry}"
        env.reset(seed=0)
        assert np.array_equal(render(env), frame), "nominal parameters rendered differently after a perturbed episode"
    finally:
        env.close()
        fresh.close()


def _pixels(env_id: str, params: dict, state: list[float], colour: tuple[int, ...] | None = None) -> int:
    """:return: how many pixels of the frame of ``state`` have ``colour`` (``None``: are not white)."""
    env = gym.make(env_id, params=params, render_mode="rgb_array")
    env.reset(seed=0)
    env.unwrapped.set_state(np.array(state))
    frame = render(env)
    env.close()
    if colour is None:
        return int((frame != 255).any(axis=-1).sum())
    return int((frame == colour).all(axis=-1).sum())


def test_longer_poles_render_longer():
    # the numpy drawings, upright: more pole pixels for a longer pole
    pendulum = [_pixels("RobustPendulum-v0", {"length": length}, [0.0, 0.0, 0.0, 0.0]) for length in (0.3, 0.6, 1.0)]
    assert pendulum[0] < pendulum[1] < pendulum[2]
    pole = (202, 152, 101)
    cartpole = [_pixels("RobustCartPole-v0", {"pole_length": length}, [0.0] * 4 + [-1.0], pole) for length in (0.25, 0.5, 1.0)]
    assert cartpole[0] < cartpole[1] < cartpole[2]


def test_linear_quadratic_game_has_no_frames():
    # an abstract linear system with no geometry: refused by name, not drawn (after Gymnasium's own warning)
    with pytest.warns(UserWarning, match="not in the possible render_modes"):
        with pytest.raises(ValueError, match="render_mode='rgb_array'"):
            gym.make("RobustLinearQuadraticGame-v0", render_mode="rgb_array")


# ---- robust_envs.video ------------------------------------------------------------------------------------------
SMALL = {"width": 64, "height": 48}  # InvertedPendulum panels of 64 x 48


def _push(obs: np.ndarray) -> np.ndarray:
    return np.array([3.0], dtype=np.float32)  # full force one way: the pole falls within a second


def _zero(obs: np.ndarray) -> np.ndarray:
    return np.zeros(1, dtype=np.float32)


def test_side_by_side_frames():
    # 1 s at dt = 0.04: 25 steps, a frame every 2 steps at 12.5 fps: the reset's and 12 more
    frames, fps = video.side_by_side_frames(
        _zero,
        _push,
        "RobustInvertedPendulum-v0",
        {"pole_length": 0.9},
        seconds=1.0,
        env_kwargs=SMALL,
        fps=12.5,
        labels=None,
    )
    assert fps == 12.5 and len(frames) == 13
    assert all(frame.shape == (48, 2 * 64, 3) and frame.dtype == np.uint8 for frame in frames)
    # same seed and parameters: the panels start in the same state (column 64 is the divider)
    assert np.array_equal(frames[0][:, 1:64], frames[0][:, 65:])
    # the pushed pole fell and its panel froze; the other pole still moves
    assert np.array_equal(frames[-1][:, 64:], frames[-2][:, 64:]) and not np.array_equal(frames[-1][:, :64], frames[0][:, :64])


def test_record_side_by_side_writes_gif_and_mp4(tmp_path, monkeypatch):
    gif = video.record_side_by_side(
        _zero, _push, "RobustInvertedPendulum-v0", tmp_path / "clip.gif", seconds=0.4, env_kwargs=SMALL
    )
    with Image.open(gif) as image:
        assert image.n_frames == 11 and image.size == (2 * 64, 48)  # 10 steps at 25 fps, and the reset
    if video._has_ffmpeg():
        import imageio.v2 as imageio

        mp4 = video.record_side_by_side(
            _zero, _push, "RobustInvertedPendulum-v0", tmp_path / "clip.mp4", seconds=0.4, env_kwargs=SMALL
        )
        with imageio.get_reader(mp4) as reader:
            assert reader.count_frames() == 11 and reader.get_data(0).shape == (48, 2 * 64, 3)
    # without imageio-ffmpeg an .mp4 becomes a GIF next to it, with a warning
    monkeypatch.setattr(video, "_has_ffmpeg", lambda: False)
    with pytest.warns(UserWarning, match="imageio-ffmpeg is not installed"):
        written = video.record_side_by_side(_zero, _zero, "RobustPendulum-v0", tmp_path / "other.mp4", seconds=0.1)
    assert written == tmp_path / "other.gif" and written.is_file() and not (tmp_path / "other.mp4").exists()


def test_video_command(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="robust-rl")
    video.add_video_subcommand(parser.add_subparsers(dest="command"))
    out = tmp_path / "cli.gif"
    argv = ["video", "--env", "RobustPendulum-v0", "--robust", "zero", "--baseline", "random", "--params", '{"length": 0.8}']
    args = parser.parse_args([*argv, "--seconds", "0.2", "--out", str(out)])
    assert video.run_video(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as image:
        assert image.n_frames == 6 and image.size == (2 * 128, 128)  # 10 steps of 0.02 s, a frame every 2
    with pytest.raises(ValueError, match="--params must be JSON"):
        video.run_video(parser.parse_args([*argv[:-1], "{length: 0.8}", "--out", str(out)]))
    with pytest.raises(ValueError, match=r"\.avi"):
        video.run_video(parser.parse_args([*argv, "--out", str(tmp_path / "clip.avi")]))
    model = tmp_path / "model.zip"
    with pytest.raises(ValueError, match=f"--robust '{model}' is not a file"):
        video.run_video(parser.parse_args([*argv[:4], str(model), *argv[5:], "--out", str(out)]))
    model.write_bytes(b"")
    with pytest.raises(ValueError, match="needs --robust-algo"):
        video.run_video(parser.parse_args([*argv[:4], str(model), *argv[5:], "--out", str(out)]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seconds": 0.0}, "seconds must be a finite number > 0, got 0.0"),
        ({"fps": float("nan")}, "fps must be a finite number > 0"),
        ({"seed": -1}, "seed must be an int >= 0"),
        ({"labels": "robust"}, "labels must be two strings"),
        ({"env_kwargs": {"render_mode": "human"}}, r"env_kwargs must not hold \['render_mode'\]"),
        ({"env_id": "RobustPendulum-v1"}, "Unknown robust env id 'RobustPendulum-v1'"),
        ({"params": {"lenght": 2.0}}, "lenght"),
    ],
)
def test_side_by_side_refuses_bad_input(kwargs, message):
    arguments = {"env_id": "RobustPendulum-v0", "seconds": 0.1, **kwargs}
    with pytest.raises(ValueError, match=message):
        video.side_by_side_frames(_zero, _zero, **arguments)
