"""The numpy sentence encoder: same vectors as the torch one, and no torch import."""

import subprocess
import sys

import numpy as np
import pytest

from keymask.core.text.numpy_sentence_encoders import NumpySentenceEncoder, NumpySentenceEncoderModel
from keymask.core.text.prompts import PromptError, packaged_minilm_folder

LONG = ("a person starts by standing still with both arms hanging loosely at the sides, then slowly "
        "raises the right arm above the head, waves it from side to side three or four times, lowers it "
        "again, takes two careful steps forward while looking down at the floor, turns around to the left "
        "in a full circle, crouches down as if to pick something up from the ground, stands back up, "
        "stretches both arms wide, and finally walks back to where the motion began")
SENTENCES = [
    "walk",
    "a person walks forward",
    "Someone waves with the LEFT hand, happily!!! (twice?)",
    "A man jumps -- then lands; spins 360° & kneels...",
    "une personne saute par-dessus une flaque d'eau",
    "ein Mann läuft schnell nach links",
    "人が手を振る",
    LONG,
    " ".join([LONG] * 4),  # over 256 tokens: truncated
]


@pytest.fixture(scope="module")
def numpy_model():
    return NumpySentenceEncoderModel(packaged_minilm_folder())


@pytest.fixture(scope="module")
def numpy_encoder():
    return NumpySentenceEncoder()


def test_long_sentences_are_long():
    assert len(LONG.split()) > 60


def test_matches_sentence_transformers(numpy_model):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(packaged_minilm_folder()), device="cpu").encode(SENTENCES)  # one padded batch
    ours = numpy_model.encode(SENTENCES)
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() <= 1e-5
    for sentence, expected in zip(SENTENCES, reference, strict=True):
        assert np.abs(numpy_model.encode([sentence])[0] - expected).max() <= 1e-5


def test_padding_in_a_batch_changes_nothing(numpy_model):
    batch = numpy_model.encode(SENTENCES)
    for sentence, vector in zip(SENTENCES, batch, strict=True):
        assert np.abs(numpy_model.encode([sentence])[0] - vector).max() <= 1e-6


def test_vectors_have_unit_length(numpy_model):
    norms = np.linalg.norm(numpy_model.encode(SENTENCES), axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


def test_paraphrases_are_closer_than_other_actions(numpy_encoder):
    walk, stroll, punch = numpy_encoder.encode(["a person walks forward", "someone strolls ahead",
                                                "a man throws a punch"])
    assert walk @ stroll > walk @ punch + 0.1


def test_encoder_cleans_prompts(numpy_encoder):
    assert numpy_encoder.name == "all-MiniLM-L6-v2" and numpy_encoder.dim == 384
    messy = numpy_encoder.encode(["  a person   walks "])
    clean = numpy_encoder.encode(["a person walks"])
    assert messy.shape == (1, 384)
    np.testing.assert_array_equal(messy, clean)


def test_empty_prompt_is_refused(numpy_encoder):
    with pytest.raises(PromptError, match="empty"):
        numpy_encoder.encode(["   \n "])
    with pytest.raises(PromptError):
        numpy_encoder.encode([])


def test_import_does_not_load_torch():
    code = ("import sys\n"
            "import keymask.core.text.numpy_sentence_encoders as m\n"
            "print('torch' in sys.modules)\n"
            "m.NumpySentenceEncoder().encode(['a person waves'])\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]  # neither importing nor encoding loads torch


