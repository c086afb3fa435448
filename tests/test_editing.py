"""Temporal editing, continuation and long motions (tiny random official-format models)."""

import numpy as np
import pytest

from keymask.core.bvh.reader import read_bvh
from keymask.core.data.retarget import bandai_to_humanml3d
from keymask.core.generation.editing import blend_seams, edit_motion, frames_in_spans, parse_spans
from keymask.core.generation.long_motion import (
    ACTION_CHANGE_OVERLAP_TOKENS,
    DEFAULT_OVERLAP_TOKENS,
    generate_chain,
    generate_long,
)
from keymask.core.generation.pipeline import GenerationInputError

MM = 1e-3


@pytest.fixture(scope="module")
def pipeline(parity_pipeline):
    return parity_pipeline


@pytest.fixture(scope="module")
def walk(bandai_clip):
    return bandai_to_humanml3d(read_bvh(bandai_clip("dataset-1_walk_normal_001.bvh")))  # (T, 22, 3)


def test_parse_spans_in_seconds_and_frames():
    assert parse_spans("0-1.5s, 3-4s", fps=20) == [(0, 30), (60, 80)]
    assert parse_spans("0-30,60-80", fps=20) == [(0, 30), (60, 80)]
    for bad in ("3-1s", "a-b", "1.5s", ""):
        with pytest.raises(GenerationInputError):
            parse_spans(bad, fps=20)


def test_kept_frames_stay_kept_and_seams_do_not_jump(pipeline, walk):
    keep = [(0, 30), (70, 100)]
    result = edit_motion(pipeline, walk, "a person jumps", keep, seed=3)
    joints, kept = result.joints, result.kept
    assert kept.sum() == 60 and np.abs(joints[kept] - walk[: len(kept)][kept]).max() < 1 * MM
    steps = np.linalg.norm(np.diff(joints, axis=0), axis=-1).max(axis=-1)  # (T-1,) largest joint step per frame
    seams = [29, 69, 99]  # steps from the last kept frame into the new span and back
    inside = np.delete(steps, seams)
    assert steps[seams].max() <= inside.max() + 1e-9


def test_continuation_keeps_the_whole_source_and_adds_frames(pipeline, walk):
    source = walk[:81]
    result = edit_motion(pipeline, source, "a person keeps walking", [(0, 81)], extend_frames=40, seed=1)
    assert len(result.joints) == 121  # 81 + 40, exactly
    assert np.abs(result.joints[:81] - source).max() < 1 * MM and result.kept[:81].all() and not result.kept[81:].any()


@pytest.mark.parametrize("frames", [78, 79, 80, 81])
def test_an_edit_keeps_the_length_and_every_kept_frame_to_the_end(pipeline, walk, frames):
    source = walk[:frames]
    result = edit_motion(pipeline, source, "a person jumps", [(frames - 8, frames)], seed=2)
    assert len(result.joints) == frames and result.kept.sum() == 8
    assert np.abs(result.joints[-8:] - source[-8:]).max() < 1e-9


def test_editing_everything_kept_is_refused(pipeline, walk):
    with pytest.raises(GenerationInputError, match="Every frame is kept"):
        edit_motion(pipeline, walk[:41], "a person walks", [(0, 41)])


def test_blend_seams_meets_both_neighbours():
    source = np.zeros((10, 2, 3))
    generated = np.ones((10, 2, 3))
    kept = np.array([1, 1, 0, 0, 0, 0, 1, 1, 1, 1], dtype=bool)
    out = blend_seams(generated, source, kept)
    np.testing.assert_array_equal(out[kept], 0.0)
    assert np.abs(np.diff(out[:, 0, 0])).max() < 0.6  # no step of the full unit offset
    assert frames_in_spans([(2, 4), (8, 20)], 10).tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1, 1]


def test_long_motion_is_one_continuous_piece(pipeline):
    motion = generate_long(pipeline, "a person dances", frames=600, seed=2)  # 30 s, four windows
    assert motion.joints.shape == (600, 22, 3) and motion.tokens.shape == (150, 3)
    steps = np.linalg.norm(np.diff(motion.joints, axis=0), axis=-1).max(axis=-1)
    joins = [4 * 49 - 1, 4 * (49 + 37) - 1]
    assert steps[joins].max() <= np.percentile(steps, 99.5) + 1e-9


class _Recording:
    """A pipeline that records the tokens each window holds fixed."""

    def __init__(self, inner):
        self.inner, self.held = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, prompts, **options):
        fixed = options.get("fixed")
        self.held.append(0 if fixed is None else int(fixed.mask[0, :, 0].sum()))
        return self.inner(prompts, **options)


def test_a_new_action_carries_less_of_the_old_one_than_a_window_of_the_same_action(pipeline):
    recording = _Recording(pipeline)
    # 60 + 40 tokens: the first part takes two windows, the second starts a third.
    motion = generate_chain(recording, [("a person walks", 240), ("a person bows", 160)], seed=0)
    assert recording.held == [0, DEFAULT_OVERLAP_TOKENS, ACTION_CHANGE_OVERLAP_TOKENS]
    assert ACTION_CHANGE_OVERLAP_TOKENS < DEFAULT_OVERLAP_TOKENS and motion.tokens.shape[0] == 100
