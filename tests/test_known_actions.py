"""Prompts the model has not learned are flagged, with the nearest known actions named."""

import json

import numpy as np

from keymask.core.generation.known_actions import CaptionIndex, choose_threshold
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


def test_index_round_trips_through_its_folder(tmp_path):
    rng = np.random.default_rng(0)
    index = CaptionIndex(_unit(rng.normal(size=(5, 8))), list("abcde"), _unit(rng.normal(size=(3, 8))), 0.42)
    index.save(tmp_path)
    loaded = CaptionIndex.load(tmp_path)
    np.testing.assert_allclose(loaded.embeddings, index.embeddings, atol=1e-3)  # stored as float16
    np.testing.assert_allclose(loaded.others, index.others, atol=1e-3)
    assert loaded.actions == index.actions and loaded.threshold == 0.42
    assert json.loads((tmp_path / "caption_index" / "index.json").read_text())["threshold"] == 0.42
    assert CaptionIndex.load(tmp_path / "elsewhere") is None


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
