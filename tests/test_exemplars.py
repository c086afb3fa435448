"""Exemplars: a prompt's motion is made from one of the training clips whose captions are nearest it (of
the action it reads as, unless it nearly repeats a caption), held at a share of token positions."""

import json

import numpy as np
import pytest

from keymask.core.generation.exemplars import ExemplarLibrary, held_positions
from keymask.core.generation.pipeline import FixedTokens, MotionPipeline, SamplingSettings
from keymask.resources import RESOURCES_DIR

DEFAULT = RESOURCES_DIR / "models" / "default"


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def _library() -> ExemplarLibrary:
    # six clips (clip c's tokens are all c): 0-2 walks, 3 waves the left hand, 4 the right, 5 bows
    captions = _unit([[1, 0, 0, 0], [0.8, 0.6, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0.99, 0.14], [0, 0, 0, 1]])
    tokens = [np.full((n, 2), clip, dtype=np.int64) for clip, n in enumerate([3, 4, 5, 6, 7, 8])]
    return ExemplarLibrary(["bows", "walks forward", "waves the left hand", "waves the right hand"],
                           np.array([1, 1, 1, 2, 3, 0]),
                           np.array([[0, 1], [1, -1], [1, 2], [3, -1], [4, -1], [5, -1]]), captions, tokens,
                           ["bandai", "bandai", "bandai", "bandai", "hdm05", "hdm05"],
                           {"bandai": "CC BY-NC 4.0", "hdm05": "CC BY-SA 3.0"})


def test_familiar_prompts_take_the_clips_of_the_nearest_captions_and_others_those_of_the_action_read():
    library = _library()
    read = []

    def read_actions(prompts, embeddings):
        read.extend(prompts)
        return ["walks forward"] * len(prompts)

    prompts = ["like the first caption", "near the bow but read as a walk", "waves with the left hand"]
    embeddings = _unit([[1, 0.02, 0, 0], [0, 0.5, 0.1, 1], [0, 0, 0.98, 0.2]])
    nearest = library.nearest_clips(prompts, embeddings, read_actions, top=2)
    assert list(nearest[0]) == [0, 1]  # clip 0 holds the nearest caption, clip 1 the next
    # only walks: the action read decides, not the nearest caption (the bow's); clips 0 and 1 share a caption
    assert nearest[1][0] == 2 and nearest[1][1] in (0, 1)
    assert nearest[2][0] == 3 and 4 not in nearest[2]  # nearer the right hand's caption, but it names the left
    assert read == [prompts[1]]  # familiar prompts are not read
    rng = np.random.default_rng(0)
    picks = [library.choose(prompts[:1], embeddings[:1], read_actions, 2, rng) for _ in range(20)]
    picked = {clip for pair in picks for clip in pair}
    assert picked <= {0, 1, 2} and len(picked) > 1  # among the 3 nearest; each sample picks its own
    assert library.choose(["x"], embeddings[1:2], lambda p, e: ["jumps"], 1, rng) == [None]  # no clip of it


def test_library_round_trips_with_one_token_file_per_source_under_its_licence(tmp_path):
    library = _library()
    library.save(tmp_path)
    folder = tmp_path / "exemplars"
    assert sorted(p.name for p in folder.glob("tokens_*.npy")) == ["tokens_bandai.npy", "tokens_hdm05.npy"]
    assert json.loads((folder / "index.json").read_text())["sources"]["hdm05"] == "CC BY-SA 3.0"
    assert np.load(folder / "captions.npy").dtype == np.int8
    loaded = ExemplarLibrary.load(tmp_path)
    assert loaded.actions == library.actions and loaded.clip_sources == library.clip_sources
    np.testing.assert_array_equal(loaded.clip_actions, library.clip_actions)
    np.testing.assert_array_equal(loaded.clip_captions, library.clip_captions)
    assert [t.tolist() for t in loaded.clip_tokens] == [t.tolist() for t in library.clip_tokens]
    np.testing.assert_allclose(loaded.captions, library.captions, atol=0.005)  # int8, a scale per row
    assert ExemplarLibrary.load(tmp_path / "elsewhere") is None


def test_held_positions_cover_the_share_asked_where_the_clip_reaches():
    clips = [np.arange(40).reshape(20, 2), np.arange(8).reshape(4, 2), None]
    lengths = np.array([10, 12, 6])
    ids, mask = held_positions(clips, lengths, 1.0, 2, np.random.default_rng(0))
    assert ids.shape == mask.shape == (3, 12, 2)
    assert mask[0, :10].all() and not mask[0, 10:].any()  # a longer clip is cut to the motion
    np.testing.assert_array_equal(ids[0, :10], clips[0][:10])
    assert mask[1, :4].all() and not mask[1, 4:].any()  # a shorter one holds where it reaches
    assert not mask[2].any()
    _, half = held_positions([np.zeros((400, 2), dtype=np.int64)], np.array([400]), 0.5, 2,
                             np.random.default_rng(0))
    assert 0.4 < half[0, :, 0].mean() < 0.6 and (half[..., 0] == half[..., 1]).all()  # whole positions


@pytest.fixture(scope="module")
def pipeline():
    return MotionPipeline.from_folder(DEFAULT)


def _clip_index(library: ExemplarLibrary, tokens: np.ndarray) -> int | None:
    for index, clip in enumerate(library.clip_tokens):
        n = min(len(clip), 49)
        if len(tokens) == n and np.array_equal(clip[:n], tokens):
            return index
    return None


def test_shipped_model_plays_a_clip_of_the_action_read_at_share_one(pipeline):
    library = pipeline.exemplars
    assert library is not None and set(library.licences) >= {"bandai", "hdm05", "cmu"}
    prompt = "an elderly man walks forward slowly"  # written for this test
    result = pipeline([prompt], samples=4, seed=3, settings=SamplingSettings(exemplar_share=1.0))
    clips = [_clip_index(library, m.tokens) for m in result.motions]
    assert None not in clips  # each motion is a whole training clip, at the clip's length
    assert {library.actions[library.clip_actions[c]] for c in clips} == {"walks forward"}
    assert len(set(clips)) > 1  # samples take clips of their own
    assert all(m.sources == (library.clip_sources[c],) for m, c in zip(result.motions, clips))  # for the credit
    again = pipeline([prompt], samples=4, seed=3, settings=SamplingSettings(exemplar_share=1.0))
    assert [_clip_index(library, m.tokens) for m in again.motions] == clips  # the seed decides


def test_share_zero_decodes_from_the_words_and_other_fixed_tokens_are_never_mixed_with_a_clip(pipeline):
    library = pipeline.exemplars
    words = pipeline([prompt := "a person bows politely"], frames=80, seed=1,
                     settings=SamplingSettings(exemplar_share=0.0)).motions[0]
    assert _clip_index(library, words.tokens) is None and words.sources == ()
    ids = np.zeros((1, 20, pipeline.num_quantizers), dtype=np.int64)
    mask = np.zeros(ids.shape, dtype=bool)
    ids[0, 5], mask[0, 5] = words.tokens[5], True  # e.g. a key pose's tokens
    held = [pipeline([prompt], frames=80, seed=2, fixed=FixedTokens(ids, mask),
                     settings=SamplingSettings(exemplar_share=share)).motions[0].tokens for share in (0.0, 1.0)]
    np.testing.assert_array_equal(held[0], held[1])
    np.testing.assert_array_equal(held[1][5], words.tokens[5])


def test_exemplar_share_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="exemplar_share"):
        SamplingSettings(exemplar_share=1.5)


def test_library_is_built_from_the_training_clips_of_actions_the_index_reads(small_dataset, pipeline):
    from keymask.core.text.prompts import clean_prompts
    from keymask.core.training.caption_index import action_phrase
    from keymask.core.training.data import manifest, read_split
    from keymask.core.training.exemplar_library import build_exemplar_library

    dataset = small_dataset[0].output_dir
    library = build_exemplar_library(dataset, pipeline)
    records = manifest(dataset)
    expected = [c for c in read_split(dataset, "train") if records[c]["content"] and ">" not in records[c]["content"]
                and action_phrase(records[c]["content"]) in pipeline.caption_index.action_names]
    assert expected and len(library.clip_tokens) == len(expected)  # joined sequences are left out
    first = expected[0]
    features = np.load(dataset / "features" / f"{first}.npy")[:196]
    np.testing.assert_array_equal(library.clip_tokens[0], pipeline.encode_features(features)[0])
    assert library.actions[library.clip_actions[0]] == action_phrase(records[first]["content"])
    caption = clean_prompts(records[first]["captions"][:1])
    embedding = pipeline.encode_text(caption)[0]
    np.testing.assert_allclose(library.captions[library.clip_captions[0, 0]], embedding / np.linalg.norm(embedding),
                               atol=1e-5)
    assert set(library.licences) == {"bandai"} and "CC BY-NC 4.0" in library.licences["bandai"]


def test_each_action_in_turn_starts_from_a_clip_of_its_own(pipeline):
    from keymask.core.generation.composition import Request, generate_requests

    library = pipeline.exemplars
    generated = generate_requests(pipeline, [Request("a man walks forward, then bows")], seed=0,
                                  settings=SamplingSettings(exemplar_share=1.0))
    assert generated.plans  # made as two actions in turn
    tokens = generated.motions[0].tokens

    def starts_of(action: str) -> list[int]:
        """token positions where a clip of `action` starts (its first 4 tokens, every layer)"""
        clips = [t for t, a in zip(library.clip_tokens, library.clip_actions) if library.actions[a] == action]
        return [i for i in range(len(tokens) - 3) if any(np.array_equal(tokens[i:i + 4], c[:4]) for c in clips)]

    assert starts_of("walks forward")[:1] == [0] and generated.motions[0].sources == ("bandai",)
    bows = starts_of("bows")
    assert bows and bows[0] > 0
    plain = generate_requests(pipeline, [Request("a man walks forward, then bows")], seed=0,
                              settings=SamplingSettings(exemplar_share=0.0)).motions[0].tokens
    assert not np.array_equal(plain[:4], tokens[:4])


def test_delivered_frames_are_the_lengths_generation_gives(pipeline):
    prompts = ["a woman jogs in a circle", "someone slowly bows"]  # written for this test
    for share in (1.0, 0.0):
        settings = SamplingSettings(exemplar_share=share)
        made = pipeline(prompts, seed=4, settings=settings)
        assert list(pipeline.delivered_frames(prompts, settings, seed=4)) == [len(m.joints) for m in made.motions]
    np.testing.assert_array_equal(pipeline.delivered_frames(prompts, SamplingSettings(exemplar_share=0.0)),
                                  pipeline.estimate_frames(prompts))


def test_generate_credits_the_sources_of_the_clips_it_made_motions_from(tmp_path, capsys):
    from keymask.cli.main import main

    assert main(["generate", "a person waves with the right hand", "--seed", "0", "-o", str(tmp_path / "w.bvh")]) == 0
    said = capsys.readouterr().err
    assert "made from motion capture clips of Bandai Namco Research Motion Dataset" in said and "CC BY-NC 4.0" in said
    assert main(["generate", "a person waves with the right hand", "--seed", "0", "--exemplar-share", "0",
                 "-o", str(tmp_path / "words.bvh")]) == 0
    assert "made from motion capture clips" not in capsys.readouterr().err


def test_each_source_is_named_by_the_start_of_its_credit_line(pipeline):
    library = pipeline.exemplars
    assert library.source_names(["hdm05", "bandai", "hdm05"]) == ["Bandai Namco Research Motion Dataset", "HDM05"]
    assert library.source_names(["cmu"]) == ["CMU Graphics Lab Motion Capture Database"]
    assert library.credit_sentence([]) == ""
    assert library.credit_sentence(["cmu"]) == "made from motion capture clips of " + library.licences["cmu"].rstrip(".")
    assert ".;" not in library.credit_sentence(["cmu", "hdm05", "bandai"])
