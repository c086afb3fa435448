"""A prompt that names a side for a hand or a leg gets a motion that moves that side."""

from dataclasses import replace

import numpy as np
import pytest

from keymask.core.features import recover_from_ric
from keymask.core.generation.composition import Request, generate_requests, on_named_side
from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
from keymask.core.generation.sides import mirrored_features, named_limb, side_that_moves
from keymask.core.kinematics import mirror_joints
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.resources import RESOURCES_DIR

JOINT = HUMANML3D_SKELETON.index


@pytest.fixture(scope="module")
def default_pipeline():
    return MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")


@pytest.mark.parametrize("prompt, named", [
    ("a person waves with the left hand", ("left", "hand")),
    ("He raises his right arm above his head.", ("right", "hand")),
    ("someone kicks forward with the left leg", ("left", "leg")),
    ("a woman hops on her right foot", ("right", "leg")),
    ("a man taps the ground with his left front foot", ("left", "leg")),
    ("a person walks and turns left", None),  # a direction, not a limb
    ("waves the left hand, then the right hand", None),  # both sides
    ("a person waves with one hand", None),
    ("kicks with the right leg and punches with the right fist", None),  # a leg and a hand
])
def test_the_side_and_limb_a_prompt_names(prompt, named):
    assert named_limb(prompt) == named


def test_the_side_that_moves_is_the_one_whose_wrist_or_ankle_travels_further():
    joints = np.zeros((20, 22, 3))
    joints[:, JOINT("left_wrist"), 1] = np.linspace(0, 0.5, 20)
    joints[:, JOINT("right_wrist"), 1] = np.linspace(0, 0.2, 20)
    joints[:, JOINT("right_ankle"), 2] = np.linspace(0, 0.3, 20)
    assert side_that_moves(joints, "hand") == "left" and side_that_moves(joints, "leg") == "right"
    assert side_that_moves(mirror_joints(joints), "hand") == "right"


def test_a_motion_of_the_other_side_is_replaced_by_its_mirror_image(default_pipeline):
    settings = SamplingSettings(mirror_to_named_side=False)
    motion = generate_requests(default_pipeline, [Request("a person waves with the right hand")], seed=0,
                               settings=settings).motions[0]
    assert side_that_moves(motion.joints, "hand") == "right"
    assert on_named_side(default_pipeline, motion) is motion  # already on its side: kept as it is

    asked_left = replace(motion, prompt="a person waves with the left hand")
    mirrored = on_named_side(default_pipeline, asked_left)
    np.testing.assert_allclose(mirrored.joints, mirror_joints(motion.joints), atol=1e-6)
    assert side_that_moves(mirrored.joints, "hand") == "left"
    assert side_that_moves(recover_from_ric(mirrored.features), "hand") == "left"
    assert mirrored.tokens.shape == motion.tokens.shape and mirrored.features.shape == motion.features.shape
    assert mirrored.tokens.min() >= 0 and mirrored.tokens.max() < default_pipeline.models.vq.config.nb_code


def test_mirrored_features_describe_the_mirror_image(default_pipeline):
    motion = generate_requests(default_pipeline, [Request("a person raises the left hand")], seed=1).motions[0]
    original = recover_from_ric(motion.features)
    mirrored = recover_from_ric(mirrored_features(motion.features))
    wrists = [JOINT("left_wrist"), JOINT("right_wrist")]
    # The raised wrist's height, frame by frame, is the other wrist's in the mirror image.
    np.testing.assert_allclose(mirrored[:, wrists[::-1], 1], original[:, wrists, 1], atol=0.1)


def test_generation_mirrors_exactly_the_motions_of_the_other_side(default_pipeline):
    prompt = "someone kicks with the right leg"
    made = {mirror: generate_requests(default_pipeline, [Request(prompt)], samples=4, seed=0,
                                      settings=SamplingSettings(mirror_to_named_side=mirror,
                                                                exemplar_share=0.0)).motions
            for mirror in (True, False)}
    plain_sides = [side_that_moves(m.joints, "leg") for m in made[False]]
    assert "left" in plain_sides  # this seed makes a left kick among the four: the case under test
    assert [side_that_moves(m.joints, "leg") for m in made[True]] == ["right"] * 4
    for kept, plain, side in zip(made[True], made[False], plain_sides):
        np.testing.assert_allclose(kept.joints, plain.joints if side == "right" else mirror_joints(plain.joints),
                                   atol=1e-6)


def test_keep_side_on_the_command_line_keeps_the_generated_side():
    from keymask.cli.generate import _settings
    from keymask.cli.main import build_parser

    parser = build_parser()
    assert _settings(parser.parse_args(["generate", "waves with the left hand"])).mirror_to_named_side
    assert not _settings(parser.parse_args(["generate", "waves with the left hand", "--keep-side"])).mirror_to_named_side


def test_a_motion_of_several_actions_is_mirrored_when_the_part_naming_a_side_moves_the_other(default_pipeline):
    plain = generate_requests(default_pipeline, [Request("a person waves the right hand")], seed=0,
                              settings=SamplingSettings(mirror_to_named_side=False)).motions[0]
    assert side_that_moves(plain.joints, "hand") == "right"
    frames = len(plain.joints)
    # The first half is a walk that names no side; the second half waves the right hand.
    joints = np.concatenate([plain.joints[: frames // 2] * 0 + plain.joints[:1], plain.joints[frames // 2:]])
    motion = replace(plain, prompt="a person walks forward, then waves the left hand", joints=joints)
    parts = [("a person walks forward", frames // 2), ("a person waves the left hand", None)]
    np.testing.assert_allclose(on_named_side(default_pipeline, motion, parts).joints, mirror_joints(joints), atol=1e-6)
    # A prompt that names both sides (a direction in one part, a hand in the other) is never mirrored.
    both = replace(motion, prompt="a person turns right, then waves the left hand")
    assert on_named_side(default_pipeline, both, [("a person turns right", frames // 2),
                                                  ("a person waves the left hand", None)]) is both


def test_generate_says_which_motion_is_a_mirror_image(tmp_path, capsys):
    from keymask.cli.main import main

    arguments = ["generate", "someone kicks with the right leg", "--samples", "4", "--seed", "0",
                 "--exemplar-share", "0"]
    assert main([*arguments, "-o", str(tmp_path / "k.bvh")]) == 0  # the seed of the mirroring test above
    said = capsys.readouterr().err
    assert "is mirrored left for right, so that the right leg moves as the prompt says" in said
    assert main([*arguments, "--keep-side", "-o", str(tmp_path / "kept.bvh")]) == 0
    assert "mirrored" not in capsys.readouterr().err


def test_motions_made_from_training_clips_take_the_named_side(default_pipeline):
    # the same prompt and seed whose words-alone motions include a left kick (the mirroring test above)
    made = generate_requests(default_pipeline, [Request("someone kicks with the right leg")], samples=4, seed=0,
                             settings=SamplingSettings(mirror_to_named_side=False)).motions
    assert [side_that_moves(m.joints, "leg") for m in made] == ["right"] * 4
