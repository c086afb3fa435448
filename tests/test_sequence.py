"""Prompts that ask for actions in turn: split in time order, read against the caption index, and
made as one continuous motion."""

import numpy as np
import pytest

from keymask.core.generation.composition import (
    WORDING_KNOWN,
    Request,
    generate_requests,
    part_frames,
    plan_actions,
    plan_with_reason,
)
from keymask.core.generation.known_actions import CaptionIndex
from keymask.core.generation.pipeline import MotionPipeline, SamplingSettings
from keymask.core.text.sequence import split_actions, subject_of, with_subject
from keymask.resources import RESOURCES_DIR


@pytest.fixture(scope="module")
def default_pipeline():
    return MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")


@pytest.mark.parametrize("prompt, parts", [
    ("A person walks forward and then bows.", ["A person walks forward", "bows"]),
    ("First the kid hops in place, then he runs off.", ["the kid hops in place", "he runs off"]),
    ("a man squats. After that he waves", ["a man squats", "he waves"]),
    ("After squatting twice, the man waves goodbye.", ["squatting twice", "the man waves goodbye"]),
    ("Before lying down, the tired man does a few squats.", ["the tired man does a few squats", "lying down"]),
    ("He waves goodbye before walking away.", ["He waves goodbye", "walking away"]),
    ("The boxer bows, but only after throwing a few punches.", ["throwing a few punches", "The boxer bows"]),
    ("a woman jogs, then stops, then raises both hands", ["a woman jogs", "stops", "raises both hands"]),
    ("A man walks forward, followed by a deep bow.", ["A man walks forward", "a deep bow"]),
    ("jumping jacks followed by squats", ["jumping jacks", "squats"]),
    ("a person kicks and later squats", ["a person kicks", "squats"]),
    ("the dancer spins, and finally bows", ["the dancer spins", "bows"]),
    ("a guy punches the air, and when he is done he bows", ["a guy punches the air", "he bows"]),
    ("Having waved goodbye, the boy walks away.", ["waved goodbye", "the boy walks away"]),
    ("After finishing the jumping jacks, she waves.", ["the jumping jacks", "she waves"]),
    ("the man starts by jogging and ends by lying down", ["the man is jogging", "the man is lying down"]),
    ("She begins with a bow and finishes with a wave", ["She does a bow", "She does a wave"]),
    ("a man bows, after which he walks away", ["a man bows", "he walks away"]),
    ("the woman waves prior to lying down", ["the woman waves", "lying down"]),
    ("a person runs forward, but first he bows", ["he bows", "a person runs forward"]),
    ("upon finishing a few squats, the girl waves", ["a few squats", "the girl waves"]),
    ("as soon as he has bowed, the man runs", ["he has bowed", "the man runs"]),
    ("the boy kicks; after a pause, he hops", ["the boy kicks", "he hops"]),
    ("a dancer dances, and at the end she bows", ["a dancer dances", "she bows"]),
    ("first, a man throws something, and second, he walks backwards", ["a man throws something", "he walks backwards"]),
    ("a woman lies down after a short walk", ["a short walk", "a woman lies down"]),
])
def test_sequences_split_into_their_actions_in_time_order(prompt, parts):
    assert split_actions(prompt) == parts


@pytest.mark.parametrize("prompt", [
    "A man waves while walking forward.",
    "Someone is late for the bus and hurries after it at a run.",
    "a dog runs after the ball",
    "a person walks forward",
    "a person finally sits down",
    "the man eventually stops walking",
    "On the stage, a man dances",
    "a person then sits down",  # "a person" alone is no action
    "He then bows.",
])
def test_prompts_of_one_action_or_of_simultaneous_actions_stay_whole(prompt):
    assert split_actions(prompt) == [prompt]


@pytest.mark.parametrize("parts, sentences", [
    (["the woman bows politely", "walks off"], ["the woman bows politely", "the woman walks off"]),
    (["walks forward", "bows"], ["a person walks forward", "a person bows"]),
    (["the tired man does a few squats", "lying down"], ["the tired man does a few squats", "the tired man is lying down"]),
    (["a few jumping jacks", "a man lies down"], ["a man does a few jumping jacks", "a man lies down"]),
    (["He waves goodbye", "walking away"], ["He waves goodbye", "He is walking away"]),
    (["the kid hops in place", "he runs off"], ["the kid hops in place", "he runs off"]),
    (["the teen gives a big wave", "lies down"], ["the teen gives a big wave", "the teen lies down"]),
])
def test_every_part_gets_the_prompts_subject(parts, sentences):
    assert with_subject(parts) == sentences


def test_a_subject_is_a_person_named_at_the_start():
    assert subject_of("an old man walks slowly") == "an old man"
    assert subject_of("she waves") == "she"
    assert subject_of("a few squats") is None and subject_of("walks off") is None


class _Encoder:
    """Maps known texts to fixed 3-d directions."""

    name, dim = "table", 3

    def __init__(self, table):
        self.table = table

    def encode(self, texts):
        return np.asarray([self.table[t] for t in texts], dtype=np.float32)


class _Pipeline:
    def __init__(self, table, index):
        self.text_encoder, self.caption_index = _Encoder(table), index

    def encode_text(self, prompts):
        return self.text_encoder.encode(prompts)


def _unit(*row):
    row = np.asarray(row, dtype=np.float32)
    return row / np.linalg.norm(row)


INDEX = CaptionIndex(np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]), ["walks forward", "bows"],
                     np.stack([_unit(0, 0, 1)]), threshold=0.0)


def test_a_sequence_of_different_known_actions_is_planned_as_its_parts():
    table = {"a man walks, then bows": _unit(1, 1, 0), "a man walks": _unit(1, 0.1, 0), "bows": _unit(0.1, 1, 0),
             "a man bows": _unit(0.1, 1, 0)}
    assert plan_actions(_Pipeline(table, INDEX), "a man walks, then bows") == ["a man walks", "a man bows"]


def test_a_part_near_no_caption_counts_when_its_sentence_is_a_wording_the_reader_knows(default_pipeline):
    # "walks off" as written is near no training caption; "the woman walks off" is a reader wording
    assert plan_with_reason(default_pipeline, "the woman bows politely and then walks off") == (
        ["the woman bows politely", "the woman walks off"], None)
    wordings = default_pipeline.caption_index.wording_similarity(["the woman walks off", "someone lowers it"])
    assert wordings[0] >= WORDING_KNOWN > wordings[1]


def test_the_parts_are_read_as_actions_as_the_sentences_they_are_made_as():
    # "strolls" alone reads nearer bowing, "a person strolls" as walking: one action told twice
    table = {"walks, then strolls": _unit(1, 1, 0.2), "walks": _unit(1, 0.1, 0), "strolls": _unit(0.4, 1, 0),
             "a person walks": _unit(1, 0.1, 0), "a person strolls": _unit(1, 0.3, 0)}
    assert plan_with_reason(_Pipeline(table, INDEX), "walks, then strolls") == (
        ["walks, then strolls"], "its parts read as one action (walks forward)")


def test_a_sequence_stays_whole_when_it_is_a_training_sentence_a_part_is_no_action_or_both_parts_are_one():
    almost_a_caption = {"walks, then bows": _unit(1, 0.05, 0), "walks": _unit(1, 0.1, 0), "bows": _unit(0.1, 1, 0)}
    weak_part = {"walks, then rests": _unit(1, 0.5, 0.5), "walks": _unit(1, 0.1, 0), "rests": _unit(0.1, 0.1, 1)}
    same = {"walks, then strolls": _unit(1, 0.5, 0.2), "walks": _unit(1, 0.1, 0), "strolls": _unit(1, 0.2, 0.1),
            "a person walks": _unit(1, 0.1, 0), "a person strolls": _unit(1, 0.2, 0.1)}
    for table in (almost_a_caption, weak_part, same):
        prompt = next(iter(table))
        assert plan_actions(_Pipeline(table, INDEX), prompt) == [prompt]


def test_a_prompt_worded_as_actions_in_turn_but_made_as_one_says_why():
    almost_a_caption = {"walks, then bows": _unit(1, 0.05, 0), "walks": _unit(1, 0.1, 0), "bows": _unit(0.1, 1, 0)}
    weak_part = {"walks, then rests": _unit(1, 0.5, 0.5), "walks": _unit(1, 0.1, 0), "rests": _unit(0.1, 0.1, 1)}
    same = {"walks, then strolls": _unit(1, 0.5, 0.2), "walks": _unit(1, 0.1, 0), "strolls": _unit(1, 0.2, 0.1),
            "a person walks": _unit(1, 0.1, 0), "a person strolls": _unit(1, 0.2, 0.1)}
    reasons = [plan_with_reason(_Pipeline(table, INDEX), next(iter(table)))[1]
               for table in (almost_a_caption, weak_part, same)]
    assert reasons == ["it is close to a sentence the model was trained on as one action",
                       '"rests" is near no action the model knows', "its parts read as one action (walks forward)"]
    no_index = _Pipeline(weak_part, None)
    assert plan_with_reason(no_index, "walks, then rests") == (
        ["walks, then rests"], "the model has no caption index to tell its parts' actions apart")
    assert plan_with_reason(_Pipeline({}, INDEX), "a man walks") == (["a man walks"], None)  # one action: nothing to say
    split = {"a man walks, then bows": _unit(1, 1, 0), "a man walks": _unit(1, 0.1, 0), "bows": _unit(0.1, 1, 0),
             "a man bows": _unit(0.1, 1, 0)}
    assert plan_with_reason(_Pipeline(split, INDEX), "a man walks, then bows") == (["a man walks", "a man bows"], None)


def test_generate_says_when_a_prompt_of_actions_in_turn_is_made_as_one(tmp_path, capsys):
    from keymask.cli.main import main

    prompt = "someone raises an arm and then lowers it"  # "lowers it" is near no training caption or wording
    assert main(["generate", prompt, "--seed", "1", "-o", str(tmp_path / "m.bvh")]) == 0
    assert (f'"{prompt}" is made as one action, not as actions in turn: "lowers it" is near no action the model '
            "knows.") in capsys.readouterr().err
    assert (tmp_path / "m.bvh").exists()


def test_the_shipped_model_makes_a_two_action_prompt_as_one_motion_of_both_parts(default_pipeline):
    prompt = "a person walks forward, then bows"
    generated = generate_requests(default_pipeline, [Request(prompt), Request("a person bows")], seed=3)
    assert generated.plans == {prompt: ["a person walks forward", "a person bows"]} and generated.kept_whole == {}
    walk_then_bow, bow = generated.motions
    assert walk_then_bow.prompt == prompt and bow.prompt == "a person bows"
    parts = part_frames(default_pipeline, ["a person walks forward", "a person bows"], None, 3,
                        SamplingSettings().action_pull)
    assert len(walk_then_bow.joints) == sum(parts)
    # It walks first (the pelvis travels) and then slows down to bow where it stopped.
    speed = np.linalg.norm(np.diff(walk_then_bow.joints[:, 0, [0, 2]], axis=0), axis=-1)  # m per frame
    first = parts[0]
    settled = speed[first + (len(speed) - first) // 2:]
    assert speed[:first].mean() > 0.02 and speed[:first].mean() > 2 * settled.mean()


def test_parts_share_the_estimated_length_with_their_ratio_softened(default_pipeline):
    parts = ["a person does a squat", "a person does jumping jacks"]
    estimated = default_pipeline.estimate_frames(parts, seed=0).astype(float)
    frames = part_frames(default_pipeline, parts, None, 0, 0.0)
    step = default_pipeline.spec.frames_per_token
    assert all(f % step == 0 for f in frames) and abs(sum(frames) - estimated.sum()) <= step
    ratio = estimated.max() / estimated.min()
    assert ratio > 2  # the case this is for: one action's clips run far longer than the other's
    assert abs(max(frames) / min(frames) - np.sqrt(ratio)) < 0.25 * np.sqrt(ratio)
    assert np.argmax(frames) == np.argmax(estimated)  # the longer action stays the longer
    assert sum(part_frames(default_pipeline, parts, 200, 0, 0.0)) == 200


def test_a_length_is_shared_between_the_parts(default_pipeline):
    generated = generate_requests(default_pipeline, [Request("a person walks forward, then bows", frames=160)], seed=0)
    assert len(generated.motions[0].joints) == 160


def test_generate_says_how_it_reads_a_two_action_prompt(tmp_path, capsys):
    from keymask.cli.main import main

    assert main(["generate", "a person walks forward, then bows", "--seed", "1", "-o", str(tmp_path / "m.bvh")]) == 0
    assert "is made as 2 actions in turn: a person walks forward | a person bows" in capsys.readouterr().err


def test_the_length_is_the_estimators_median_unless_drawn(default_pipeline):
    prompts = ["a person walks forward", "someone throws a punch"]
    median = [default_pipeline.estimate_frames(prompts, seed=seed) for seed in range(4)]
    drawn = [default_pipeline.estimate_frames(prompts, seed=seed, sample_length=True) for seed in range(4)]
    assert all(np.array_equal(median[0], m) for m in median)
    assert any(not np.array_equal(drawn[0], d) for d in drawn)
    # words alone: with exemplars, a motion takes its clip's length
    generated = default_pipeline(prompts, seed=5, settings=SamplingSettings(exemplar_share=0.0))
    assert [len(m.joints) for m in generated.motions] == list(median[0])


def test_too_long_or_too_many_motions_are_refused_before_any_work(default_pipeline):
    from keymask.core.generation.composition import MAX_MOTIONS, MAX_SECONDS
    from keymask.core.generation.pipeline import GenerationInputError

    with pytest.raises(GenerationInputError, match="at most 10 minutes"):
        generate_requests(default_pipeline, [Request("a person walks", frames=MAX_SECONDS * 20 + 4)])
    with pytest.raises(GenerationInputError, match="split the prompt file"):
        generate_requests(default_pipeline, [Request("a person walks")] * 2, samples=MAX_MOTIONS // 2 + 1)


def test_the_two_action_development_sets_are_apart_from_each_other_and_the_benchmarks():
    import json
    from pathlib import Path

    from keymask.core.data.captions import CONTENT_PHRASES
    from keymask.resources import RESOURCES_DIR

    def prompts(path):
        document = json.loads(Path(path).read_text())
        return document["prompts"] if isinstance(document, dict) else document

    sets = [prompts(RESOURCES_DIR / "eval" / name) for name in (
        "sequence_development.json", "sequence_development_2.json", "sequence_development_3.json",
        "sequence_development_4.json", "sequence_development_5.json")]
    bench_data = Path(__file__).parents[1] / "bench" / "data"
    first, second = ({e["prompt"].lower() for e in prompts(bench_data / name)}
                     for name in ("text_prompts.json", "text_prompts_second.json"))
    assert len(second) == len(prompts(bench_data / "text_prompts_second.json")) and not first & second
    held_out = first | second
    written = [{e["prompt"].lower() for e in entries} for entries in sets]
    assert [len(w) for w in written] == [len(entries) for entries in sets] and all(len(w) >= 40 for w in written)
    everything = set().union(*written)
    assert len(everything) == sum(map(len, written)) and not everything & held_out
    for entries in sets[1:]:  # every one asks for two actions in turn
        assert all(len(split_actions(e["prompt"])) == 2 for e in entries)
    labels = {label for entries in sets for e in entries for label in e["first"] + e["second"]}
    assert labels <= set(CONTENT_PHRASES)
