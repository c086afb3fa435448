"""Text encoders: the packaged sentence encoder and CLIP from a local (here tiny, random) weights file."""

import warnings

import pytest
import torch

from keymask.core.text.encoders import ClipTextEncoder, SentenceEncoder
from keymask.core.text.prompts import MAX_PROMPT_CHARACTERS, PromptError, TextEncoderUnavailable, clean_prompts


@pytest.fixture(scope="module")
def sentence_encoder():
    return SentenceEncoder()


def test_sentence_encoder_matches_sentence_transformers(sentence_encoder):
    from sentence_transformers import SentenceTransformer

    from keymask.core.text.prompts import packaged_minilm_folder

    texts = ["a person walks forward", "Someone waves with the left hand, happily."]
    reference = SentenceTransformer(str(packaged_minilm_folder()), device="cpu").encode(texts, convert_to_tensor=True)
    ours = sentence_encoder.encode(texts)
    assert ours.shape == (2, 384)
    torch.testing.assert_close(ours, reference.cpu(), atol=1e-5, rtol=0)


def test_paraphrases_are_closer_than_other_actions(sentence_encoder):
    walk, stroll, punch = sentence_encoder.encode(["a person walks forward", "someone strolls ahead",
                                                   "a man throws a punch"])
    assert walk @ stroll > walk @ punch + 0.1


def test_batch_padding_does_not_change_an_embedding(sentence_encoder):
    alone = sentence_encoder.encode(["a person bows"])
    padded = sentence_encoder.encode(["a person bows", "an elderly person walks slowly to the left and waves"])[:1]
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=0)


def test_bad_prompts_get_one_sentence():
    with pytest.raises(PromptError, match="empty"):
        clean_prompts(["   \n\t "])
    with pytest.raises(PromptError, match="empty"):
        clean_prompts([""])
    with pytest.raises(TypeError):
        clean_prompts("a single string")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (long,) = clean_prompts(["walk " * 2000])
    assert MAX_PROMPT_CHARACTERS - 1 <= len(long) <= MAX_PROMPT_CHARACTERS and "characters" in str(caught[0].message)
    assert clean_prompts([long]) == [long]  # cleaning a cleaned prompt changes nothing
    assert clean_prompts(["  a  person\njumps "]) == ["a person jumps"]


def test_non_english_prompts_are_encoded(sentence_encoder):
    out = sentence_encoder.encode(["人が歩く", "une personne saute"])
    assert torch.isfinite(out).all() and out.shape == (2, 384)


def _tiny_clip_file(path):
    from clip.model import CLIP

    torch.manual_seed(0)
    # clip.load infers heads as width // 64, so widths of 64 give one head.
    model = CLIP(embed_dim=16, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
                 context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=1)
    torch.save(model.state_dict(), path)


def test_clip_encoder_loads_a_local_weights_file(tmp_path):
    path = tmp_path / "tiny-clip.pt"
    _tiny_clip_file(path)
    encoder = ClipTextEncoder(path)
    out = encoder.encode(["a person jumps over a puddle", "a person jumps over a puddle", "someone bows"])
    assert encoder.dim == 16 and out.shape == (3, 16) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], out[1])
    assert not torch.allclose(out[0], out[2])


def test_missing_clip_weights_say_what_and_where(tmp_path):
    with pytest.raises(TextEncoderUnavailable, match="ViT-B-32.pt"):
        ClipTextEncoder(tmp_path / "nowhere.pt")


def test_clip_on_used_positions_equals_clips_own_encode_text(tmp_path):
    import clip

    path = tmp_path / "tiny-clip.pt"
    _tiny_clip_file(path)
    encoder = ClipTextEncoder(path)
    tokens = clip.tokenize(["a person jumps", "an old man slowly walks forward and then turns to the left"])
    torch.testing.assert_close(encoder.encode_tokens(tokens), encoder._model.encode_text(tokens).float(),
                               atol=1e-5, rtol=1e-5)
