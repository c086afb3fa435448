"""Prompts the model has not learned are flagged, with the nearest known actions named."""

import json

import numpy as np

from keymask.core.generation.known_actions import PULL_FADE, CaptionIndex, choose_similarity_floor, choose_threshold
from keymask.core.training.caption_index import action_phrase


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def test_check_flags_prompts_nearer_to_other_activities_than_to_every_caption():
    captions = _unit([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 1, 0, 0]])
    others = _unit([[0, 0, 1, 0], [0, 0, 0, 1]])
    index = CaptionIndex(captions, ["walks forward", "walks forward", "bows"], others, threshold=0.0)
    prompts = np.array([[1.0, 0.05, 0.3, 0.0], [0.2, 0.1, 1.0, 0.0], [0.0, 0.6, 0.0, 0.5]])
    checks = index.check(["near walk", "far", "between"], prompts)
    assert checks[0].known and checks[0].nearest_actions == ("walks forward", "bows")
    assert not checks[1].known and checks[1].score < 0
    assert checks[2].known and checks[2].nearest_actions[0] == "bows"  # nearer to a caption than to the others
    assert "has not learned" in checks[1].warning() and "far" in checks[1].warning()


def test_words_near_no_caption_and_no_other_activity_are_flagged_by_the_similarity_floor():
    captions = _unit([[1, 0, 0, 0], [0, 1, 0, 0]])
    index = CaptionIndex(captions, ["walks forward", "bows"], _unit([[0, 0, 1, 0]]), threshold=0.0, similarity_floor=0.4)
    prompts = _unit([[1.0, 0.1, 0.0, 0.2], [0.3, 0.1, 0.0, 1.0]])  # a walk; then words near nothing (0.29 at most)
    walk, noise = index.check(["a man walks", "hello"], prompts)
    assert walk.known and walk.reads_as_motion
    assert noise.score > 0  # nearer a caption than any other activity: the score alone calls it known
    assert not noise.known and not noise.reads_as_motion
    assert noise.warning().startswith('"hello" is unlike every caption') and "walks forward" in noise.warning()


def test_similarity_floor_flags_the_asked_share_of_off_topic_prompts():
    nearest = np.linspace(0.1, 0.5, 40)
    floor = choose_similarity_floor(nearest, min_flagged=0.95)
    assert np.mean(nearest < floor) >= 0.95
    assert np.mean(nearest < floor - 0.011) < 0.95  # the lowest such floor (the values are 0.0103 apart)


def test_index_round_trips_through_its_folder(tmp_path):
    rng = np.random.default_rng(0)
    index = CaptionIndex(_unit(rng.normal(size=(5, 8))), list("abcde"), _unit(rng.normal(size=(3, 8))), 0.42, 0.3)
    index.save(tmp_path)
    loaded = CaptionIndex.load(tmp_path)
    np.testing.assert_allclose(loaded.embeddings, index.embeddings, atol=1e-3)  # stored as float16
    np.testing.assert_allclose(loaded.others, index.others, atol=1e-3)
    assert loaded.actions == index.actions and loaded.threshold == 0.42 and loaded.similarity_floor == 0.3
    info = json.loads((tmp_path / "caption_index" / "index.json").read_text())
    assert info["threshold"] == 0.42
    del info["similarity_floor"]  # an index made before the floor existed checks the score alone
    (tmp_path / "caption_index" / "index.json").write_text(json.dumps(info))
    assert CaptionIndex.load(tmp_path).similarity_floor == 0.0
    assert CaptionIndex.load(tmp_path / "elsewhere") is None


def test_the_shipped_index_flags_words_that_describe_no_motion():
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.resources import RESOURCES_DIR

    pipeline = MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")
    # written for this test, apart from the calibration set that chose the floor
    prompts = ["good evening everyone", "a blue bicycle", "ein Mann tanzt", "zzzz", "a man jogs forward slowly",
               "a woman bows to the audience"]
    checks = pipeline.check_prompts(prompts)
    assert [check.reads_as_motion for check in checks] == [False] * 4 + [True] * 2
    assert checks[4].known and checks[5].known


def test_threshold_keeps_false_alarms_on_known_prompts_at_the_allowed_share():
    known = np.linspace(0.5, 0.9, 100)
    threshold = choose_threshold(known, max_false_alarms=0.05)
    assert np.mean(known < threshold) <= 0.05 and np.mean(known < threshold + 0.01) > 0.0


def test_action_phrases_of_joined_labels():
    assert action_phrase("walk>bow") == "walks forward, then bows"
    assert action_phrase("walk&wave-right-hand") == "walks forward and waves the right hand"
    assert action_phrase("something-new") == "something-new"


def test_a_prompt_is_read_as_the_action_whose_captions_are_nearest_on_average():
    captions = _unit([[1, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 1, 0, 0], [0, 0.9, 0.1, 0]])
    index = CaptionIndex(captions, ["walks forward", "walks forward", "bows", "bows"], _unit([[0, 0, 0, 1]]), 0.0)
    prompt = _unit([[0.5, 0.85, 0.0, 0.0]])  # nearest single caption: walk's second; nearest action mean: bows
    assert index.read_actions(["someone bends"], prompt) == ["bows"]


def test_a_prompt_naming_one_side_is_never_read_as_an_action_of_the_other_side():
    captions = _unit([[1, 0, 0], [1, 0.05, 0], [0, 0, 1]])
    index = CaptionIndex(captions, ["waves the left hand", "waves the right hand", "bows"], _unit([[0, 1, 0]]), 0.0)
    prompt = _unit([[1, 0, 0.01]])  # the encoder puts it nearest the left-hand wave
    assert index.read_actions(["a man waves with his right hand"], prompt)[0] == "waves the right hand"
    assert index.read_actions(["a man waves with his left hand"], prompt)[0] == "waves the left hand"
    assert index.read_actions(["a man waves with the left, then the right hand"], prompt)[0] == "waves the left hand"


def test_a_prompt_naming_one_side_is_read_as_an_action_of_that_side_within_the_margin():
    captions = _unit([[1, 0, 0], [0.8, 0.6, 0], [0, 0, 1]])
    index = CaptionIndex(captions, ["waves goodbye", "waves the right hand", "bows"], _unit([[0, 1, 0]]), 0.0)
    prompt = _unit([[1, 0.2, 0]])  # nearest the goodbye captions, which name no hand
    goodbye, right_hand = (prompt @ captions[:2].T)[0]
    words = ["a boy waves goodbye with his right hand"]
    assert index.read_actions(words, prompt, side_margin=0.0)[0] == "waves goodbye"
    assert index.read_actions(words, prompt, side_margin=goodbye - right_hand + 0.01)[0] == "waves the right hand"
    assert index.read_actions(words, prompt, side_margin=goodbye - right_hand - 0.01)[0] == "waves goodbye"
    assert index.read_actions(["a boy waves goodbye"], prompt, side_margin=1.0)[0] == "waves goodbye"  # no side named


def test_a_prompt_is_pulled_toward_its_action_and_never_toward_the_other_side():
    captions = _unit([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 1, 0, 0], [0, 0.95, 0.05, 0]])
    index = CaptionIndex(captions, ["waves the left hand", "waves the left hand", "waves the right hand",
                                    "waves the right hand"], _unit([[0, 0, 0, 1]]), 0.0)
    prompt = _unit([[0.3, 0.5, 0.0, 0.8]])  # nearer the right-hand captions, but the words say left
    unchanged = index.pulled_toward_actions(["someone waves with the left hand"], prompt * 3.0, 0.0)
    np.testing.assert_allclose(unchanged, prompt, atol=1e-6)  # strength 0: the unit embedding
    pulled = index.pulled_toward_actions(["someone waves with the left hand"], prompt, 1.0)
    left, right = _unit(captions[:2].mean(0, keepdims=True)), _unit(captions[2:].mean(0, keepdims=True))
    assert np.isclose(np.linalg.norm(pulled), 1.0, atol=1e-6)
    assert (pulled @ left.T).item() > (prompt @ left.T).item() + 0.2
    assert (pulled @ right.T).item() < (prompt @ right.T).item() + 0.2
    stronger = index.pulled_toward_actions(["someone waves with the left hand"], prompt, 3.0)
    assert (stronger @ left.T).item() > (pulled @ left.T).item()
    trained = index.pulled_toward_actions(["a man waves the left hand"], captions[1:2], 1.0)
    np.testing.assert_allclose(trained, captions[1:2], atol=1e-6)  # a training sentence keeps its details
    low, high = PULL_FADE
    middle = 0.5 * (low + high)
    between = _unit([[middle, 0, 0, np.sqrt(1 - middle ** 2)]])  # its nearest caption is `middle` similar
    halfway = index.pulled_toward_actions(["someone waves with the left hand"], between, 1.0)
    full = _unit(between + left)
    assert 0.0 < (halfway @ left.T).item() - (between @ left.T).item() < (full @ left.T).item() - (between @ left.T).item()


def test_the_shipped_model_is_conditioned_on_the_pulled_embedding():
    from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
    from keymask.resources import RESOURCES_DIR

    pipeline = MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")
    prompt = ["an old man ambles along the beach"]
    words = pipeline.encode_text(prompt)
    pulled = pipeline.caption_index.pulled_toward_actions(prompt, words, 1.0)
    # made from the words alone: a training clip held at every position would hide what conditions the model
    made = pipeline(prompt, frames=40, seed=3,
                    settings=SamplingSettings(action_pull=1.0, exemplar_share=0.0)).motions[0]
    from_pulled = pipeline(prompt, frames=40, seed=3, text_embedding=pulled,
                           settings=SamplingSettings(action_pull=0.0, exemplar_share=0.0)).motions[0]
    from_words = pipeline(prompt, frames=40, seed=3,
                          settings=SamplingSettings(action_pull=0.0, exemplar_share=0.0)).motions[0]
    np.testing.assert_array_equal(made.tokens, from_pulled.tokens)
    assert not np.array_equal(made.tokens, from_words.tokens)
    assert float(pulled[0] @ words[0] / np.linalg.norm(words[0])) < 0.99  # the pull moved it
