"""The generation pipeline end to end: official checkpoints (parity) and tiny random models of ours."""

import numpy as np
import pytest
import torch

from keymask.core.generation.bundle import MotionModelBundle
from keymask.core.generation.masked_decoding import GenerationCancelled
from keymask.core.generation.pipeline import (
    FixedTokens,
    GenerationInputError,
    MotionPipeline,
    SamplingSettings,
)
from keymask.core.text.encoders import ClipTextEncoder, PromptError, TextEncoderUnavailable

GREEDY = SamplingSettings(greedy=True, steps=10, guidance_scale=4, residual_guidance_scale=5)


@pytest.fixture(scope="module")
def official_pipeline(parity_pipeline):
    return parity_pipeline


@pytest.fixture(scope="module")
def golden(parity_dir):
    return dict(np.load(parity_dir / "golden.npz"))


def test_official_checkpoints_generate_the_official_motion(official_pipeline, golden):
    result = official_pipeline(["first", "second"], frames=[int(f) for f in golden["m_lens_frames"]],
                               text_embedding=torch.from_numpy(golden["text_embedding"]), settings=GREEDY)
    for i, motion in enumerate(result.motions):
        n = int(golden["token_lens"][i])
        np.testing.assert_array_equal(motion.tokens, golden["gen_all_ids"][i, :n])
        np.testing.assert_allclose(motion.features, golden["gen_decoded"][i, : 4 * n] * official_pipeline.bundle.std
                                   + official_pipeline.bundle.mean, atol=1e-4)
        np.testing.assert_allclose(motion.joints, golden["gen_joints"][i, : 4 * n], atol=1e-4)


def test_official_models_without_clip_weights_say_what_is_missing(parity_dir):
    with pytest.raises(TextEncoderUnavailable, match="ViT-B-32.pt"):
        MotionPipeline.from_folder(parity_dir / "checkpoints" / "t2m" / "mtrans_A")


def test_samples_and_seeds(official_pipeline):
    run = lambda seed: official_pipeline(["a person jumps"], frames=40, samples=3, seed=seed)  # noqa: E731
    first, again, other = run(7), run(7), run(8)
    assert [m.sample for m in first.motions] == [0, 1, 2] and first.seed == 7
    for a, b in zip(first.motions, again.motions):
        np.testing.assert_array_equal(a.tokens, b.tokens)
    assert any(not np.array_equal(a.tokens, b.tokens) for a, b in zip(first.motions, other.motions))
    assert all(m.joints.shape == (40, 22, 3) for m in first.motions)


def test_fixed_tokens_are_kept_in_every_layer(official_pipeline, golden):
    n = 16
    source = torch.from_numpy(golden["rvq_code_idx"][:1])  # (1, N, Q)
    mask = torch.zeros(1, n, 3, dtype=torch.bool)
    mask[:, :5] = True
    mask[:, 12:] = True
    result = official_pipeline(["a person waves"], frames=64, seed=1, fixed=FixedTokens(source, mask))
    tokens = result.motions[0].tokens
    np.testing.assert_array_equal(tokens[mask[0].numpy()], source[0][mask[0]].numpy())


@pytest.mark.parametrize("frames, message", [(0, "at least"), (-8, "at least"), (400, "window"),
                                             (float("nan"), "at least")])
def test_lengths_out_of_range_are_refused(official_pipeline, frames, message):
    with pytest.raises(GenerationInputError, match=message):
        official_pipeline(["a person walks"], frames=frames)


def test_no_length_and_no_estimator_is_explained(official_pipeline):
    with pytest.raises(GenerationInputError, match="length estimator"):
        official_pipeline(["a person walks"])


def test_empty_prompt_is_refused(official_pipeline):
    with pytest.raises(PromptError):
        official_pipeline(["   "], frames=40)


def test_progress_and_cancel(official_pipeline):
    seen = []
    official_pipeline(["a person bows"], frames=40, progress=lambda stage, done, total: seen.append(stage))
    assert seen[0] == "text" and "tokens" in seen and "residual" in seen and seen[-1] == "decode"
    with pytest.raises(GenerationCancelled):
        official_pipeline(["a person bows"], frames=40, cancel=lambda: True)


def test_bundle_round_trips_through_our_folder_layout(official_pipeline, golden, tmp_path, tiny_clip_512):
    official_pipeline.bundle.save(tmp_path / "model")
    again = MotionModelBundle.load(tmp_path / "model")
    assert again.text_encoder == "clip"
    pipeline = MotionPipeline(again, ClipTextEncoder(tiny_clip_512))
    result = pipeline(["first", "second"], frames=[int(f) for f in golden["m_lens_frames"]],
                      text_embedding=torch.from_numpy(golden["text_embedding"]), settings=GREEDY)
    np.testing.assert_array_equal(result.motions[1].tokens, golden["gen_all_ids"][1, : int(golden["token_lens"][1])])
