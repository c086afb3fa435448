"""The "Generated" key-pose source, run end to end on tiny random-weight models of the real classes:
a Stable Diffusion pipeline and a ControlNet saved in diffusers format, and controlnet-aux's
OpenPose body network saved as body_pose_model.pth, each loaded back from its folder."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: no hub retries

import gzip
import importlib.util
import json
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from keymask.conditioning import imagine
from keymask.conditioning.imagine import (
    ImaginedPose,
    WeightsMissing,
    available_weights,
    imagine_image,
    imagine_pose,
    pose_from_image,
    render_character,
)
from keymask.conditioning.poses import Pose2D
from keymask.core.generation.masked_decoding import GenerationCancelled

SIZE = 64  # pixels; the tiny VAE halves it to 32 x 32 latents
FAST = dict(steps=2, size=SIZE, device="cpu")


# ----------------------------------------------------------------------------------------------
# Tiny models, built once per session


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level BPE alphabet: printable bytes stand for themselves, the rest map to 256 + n."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[byte] = chr(byte)
        else:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


def _clip_tokenizer_files(folder: Path) -> Path:
    """CLIP's BPE vocabulary, as shipped in clip-anytorch, converted to vocab.json + merges.txt."""
    package = Path(next(iter(importlib.util.find_spec("clip").submodule_search_locations)))
    with gzip.open(package / "bpe_simple_vocab_16e6.txt.gz") as file:
        lines = file.read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]  # line 0 is the header
    alphabet = list(_bytes_to_unicode().values())
    tokens = [*alphabet, *(t + "</w>" for t in alphabet), *("".join(m) for m in merges),
              "<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
                                       encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def sd_dir(tmp_path_factory) -> Path:
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    root = tmp_path_factory.mktemp("imagine")
    tokenizer = CLIPTokenizer.from_pretrained(_clip_tokenizer_files(root / "clip-bpe"), model_max_length=77)
    assert len(tokenizer) == 49408
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=32, in_channels=4, out_channels=4, block_out_channels=(8, 16),
                                layers_per_block=1, norm_num_groups=4, attention_head_dim=2, cross_attention_dim=32,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16),
                        layers_per_block=1, norm_num_groups=4, sample_size=SIZE,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37,
                                                num_attention_heads=4, num_hidden_layers=2, max_position_embeddings=77,
                                                bos_token_id=49406, eos_token_id=49407, pad_token_id=49407))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True,
                              steps_offset=1, set_alpha_to_one=False)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(root / "sd")
    return root / "sd"


@pytest.fixture(scope="session")
def controlnet_dir(sd_dir) -> Path:
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(sd_dir / "unet")
    # The conditioning embedding halves once, like the tiny VAE (64 px image -> 32 px latents).
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(16, 32))
    torch.manual_seed(1)
    with torch.no_grad():  # from_unet starts the "zero convolutions" at zero: make the skeleton matter
        for name, parameter in controlnet.named_parameters():
            if "zero_conv" in name or "controlnet_cond_embedding.conv_out" in name or "controlnet_mid_block" in name:
                parameter.normal_(0.0, 0.5)
    folder = sd_dir.parent / "controlnet"
    controlnet.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def openpose_dir(tmp_path_factory) -> Path:
    """The OpenPose body network with random weights, in the layout of lllyasviel/Annotators'
    body_pose_model.pth: a state dict without the block prefix (controlnet-aux's util.transfer
    maps "model0.conv1_1.weight" to "conv1_1.weight")."""
    import torch

    with warnings.catch_warnings():  # controlnet-aux's package import warns about extras it does not need here
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.model import bodypose_model

    torch.manual_seed(2)
    state = {name.split(".", 1)[1]: tensor for name, tensor in bodypose_model().state_dict().items()}
    folder = tmp_path_factory.mktemp("openpose")
    torch.save(state, folder / "body_pose_model.pth")
    return folder


@pytest.fixture
def photo_extractor(monkeypatch):
    """A stand-in photo extractor that records its calls and returns a standing figure."""
    calls = []

    def extract_pose(image, *, person=None) -> Pose2D:
        calls.append(image)
        h, w = np.asarray(image).shape[:2]
        return _standing(w, h, source={"extractor": "photo"})

    monkeypatch.setitem(sys.modules, "keymask.conditioning.photo", types.SimpleNamespace(extract_pose=extract_pose))
    return calls


def _standing(width: int, height: int, source: dict | None = None, arms: float = 0.0) -> Pose2D:
    """A rough front-facing figure filling the canvas; `arms` raises the wrists (in canvas fractions)."""
    u = np.array([[.50, .12], [.50, .25], [.38, .25], [.33, .40], [.30, .55 - arms], [.62, .25], [.67, .40],
                  [.70, .55 - arms], [.43, .55], [.43, .72], [.43, .90], [.57, .55], [.57, .72], [.57, .90],
                  [.47, .10], [.53, .10], [.44, .11], [.56, .11]])
    return Pose2D(u * (width, height), np.ones(18), (width, height), source=source or {})


# ----------------------------------------------------------------------------------------------
# 1. Text -> image


def test_image_shape_dtype_and_seed(sd_dir):
    a = imagine_image("a dancer", sd_dir=sd_dir, seed=1, **FAST)
    assert a.shape == (SIZE, SIZE, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, imagine_image("a dancer", sd_dir=sd_dir, seed=1, **FAST))
    assert not np.array_equal(a, imagine_image("a dancer", sd_dir=sd_dir, seed=2, **FAST))
    # size is (width, height)
    wide = imagine_image("a dancer", sd_dir=str(sd_dir), steps=2, size=(SIZE, 48), device="cpu")
    assert wide.shape == (48, SIZE, 3)


def test_image_reports_progress_and_can_be_cancelled(sd_dir):
    seen = []
    imagine_image("a dancer", sd_dir=sd_dir, progress=lambda *a: seen.append(a), **FAST)
    total = seen[-1][2]  # denoising passes: PNDM makes one more than `steps`
    assert total in (2, 3) and seen == [("image", k, total) for k in range(1, total + 1)]
    with pytest.raises(GenerationCancelled, match=f"after 1 of {total} steps"):
        imagine_image("a dancer", sd_dir=sd_dir, cancel=lambda: True, **FAST)


def test_image_size_must_be_a_multiple_of_8(sd_dir):
    with pytest.raises(ValueError, match="multiples of 8"):
        imagine_image("a dancer", sd_dir=sd_dir, steps=2, size=60, device="cpu")


# ----------------------------------------------------------------------------------------------
# 2. Image -> skeleton


def test_openpose_gives_a_pose2d_on_the_image_canvas(openpose_dir, tmp_path):
    # OpenPose scales every image to 184 px high (about 10 s of CPU for a square one here): a narrow
    # image keeps the network small.
    image = np.random.default_rng(0).integers(0, 256, (96, 24, 3), dtype=np.uint8)
    pose = pose_from_image(image, openpose_dir=openpose_dir, device="cpu")
    assert isinstance(pose, Pose2D) and pose.canvas == (24, 96)
    assert pose.keypoints.shape == (18, 2) and pose.confidence.shape == (18,)
    assert ((pose.confidence >= 0) & (pose.confidence <= 1)).all()
    assert pose.source["extractor"] == "openpose"
    # A file works the same and is named in the source.
    from PIL import Image

    Image.fromarray(image).save(tmp_path / "person.png")
    from_file = pose_from_image(tmp_path / "person.png", openpose_dir=openpose_dir, device="cpu")
    assert from_file.canvas == (24, 96) and from_file.source["file"] == str(tmp_path / "person.png")
    np.testing.assert_array_equal(from_file.confidence, pose.confidence)


def test_openpose_detections_become_pixels_of_the_most_complete_person():
    from controlnet_aux.open_pose import PoseResult
    from controlnet_aux.open_pose.body import BodyResult, Keypoint

    def body(points: dict[int, tuple[float, float, float]], score: float) -> PoseResult:
        keypoints = [Keypoint(*points[j]) if j in points else None for j in range(18)]
        return PoseResult(BodyResult(keypoints, total_score=score, total_parts=len(points)), None, None, None)

    partial = body({0: (0.1, 0.1, 0.9), 1: (0.1, 0.2, 0.9), 2: (0.1, 0.3, 0.9), 5: (0.2, 0.3, 0.9)}, 9.0)
    complete = body({0: (0.5, 0.25, 0.8), 1: (0.5, 0.5, 1.3), 2: (0.25, 0.5, 0.6), 5: (0.75, 0.5, 0.7),
                     8: (0.4, 0.75, 0.5)}, 3.0)
    pose = imagine._pose_from_detections([partial, complete], 200, 100)
    assert pose.canvas == (200, 100) and pose.source == {"extractor": "openpose", "people": 2, "person": 1}
    np.testing.assert_allclose(pose.keypoints[[0, 1, 2, 5, 8]], [[100, 25], [100, 50], [50, 50], [150, 50], [80, 75]])
    np.testing.assert_allclose(pose.confidence[[0, 1, 2, 5, 8]], [0.8, 1.0, 0.6, 0.7, 0.5])  # clipped to 1
    assert pose.present.sum() == 5
    nobody = imagine._pose_from_detections([], 64, 32)
    assert nobody.canvas == (64, 32) and not nobody.present.any() and nobody.source["people"] == 0


@pytest.mark.parametrize("folder", ["none", "empty"])
def test_photo_extractor_without_openpose_weights(photo_extractor, tmp_path, folder):
    image = np.full((40, 32, 3), 200, dtype=np.uint8)
    pose = pose_from_image(image, openpose_dir=None if folder == "none" else tmp_path)
    assert len(photo_extractor) == 1
    np.testing.assert_array_equal(photo_extractor[0], image)
    assert pose.canvas == (32, 40) and pose.source["extractor"] == "photo"
    assert pose.source["fallback_from"] == "openpose"


def test_no_openpose_and_no_photo_extractor(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "keymask.conditioning.photo", None)  # importing it fails
    with pytest.raises(WeightsMissing) as error:
        pose_from_image(np.zeros((8, 8, 3), np.uint8), openpose_dir=tmp_path)
    assert str(error.value) == (
        f"OpenPose body weights were not found in {tmp_path}: put body_pose_model.pth from lllyasviel/Annotators "
        "there (licensed for non-commercial use only) or pass --openpose DIR.")


def test_wrong_openpose_file(tmp_path):
    import torch

    torch.save({"something.weight": torch.zeros(1)}, tmp_path / "body_pose_model.pth")
    with pytest.raises(ValueError, match="is not an OpenPose body model"):
        pose_from_image(np.zeros((8, 8, 3), np.uint8), openpose_dir=tmp_path, device="cpu")


# ----------------------------------------------------------------------------------------------
# 3. Skeleton -> character, and all three


def test_character_follows_the_skeleton(sd_dir, controlnet_dir):
    options = dict(sd_dir=sd_dir, controlnet_dir=controlnet_dir, seed=3, **FAST)
    pose = _standing(128, 128)  # scaled onto the 64 px output canvas
    a = render_character(pose, "a knight", **options)
    assert a.shape == (SIZE, SIZE, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, render_character(pose, "a knight", **options))
    assert not np.array_equal(a, render_character(_standing(128, 128, arms=0.4), "a knight", **options))
    seen = []
    render_character(pose, "a knight", progress=lambda *a: seen.append(a), **options)
    assert [done for _, done, _ in seen] == list(range(1, len(seen) + 1)) and {s for s, _, _ in seen} == {"character"}


def test_character_size_defaults_to_the_pose_canvas_scaled_to_512():
    assert imagine._fit((1000, 500), None) == (512, 256)
    assert imagine._fit((64, 96), None) == (344, 512)
    assert imagine._fit((64, 96), (64, 48)) == (64, 48)


def test_imagine_pose_with_openpose(sd_dir, openpose_dir):
    narrow = dict(steps=2, size=(16, SIZE), device="cpu")  # (width, height): a small OpenPose input
    result = imagine_pose("a person jumping", sd_dir=sd_dir, openpose_dir=openpose_dir, seed=4, **narrow)
    assert isinstance(result, ImaginedPose) and result.character is None
    assert result.image.shape == (SIZE, 16, 3) and result.image.dtype == np.uint8
    np.testing.assert_array_equal(result.image, imagine_image(
        "a person jumping" + imagine.POSE_PROMPT_SUFFIX, negative_prompt=imagine.POSE_NEGATIVE_PROMPT,
        sd_dir=sd_dir, seed=4, **narrow))
    assert isinstance(result.pose, Pose2D) and result.pose.canvas == (16, SIZE)
    assert result.pose.source["extractor"] == "openpose" and result.pose.source["prompt"] == "a person jumping"


def test_imagine_pose_with_character(sd_dir, controlnet_dir, photo_extractor):
    stages = []
    result = imagine_pose("a person waving", sd_dir=sd_dir, controlnet_dir=controlnet_dir, seed=5,
                          progress=lambda stage, done, total: stages.append(stage), **FAST)
    assert len(photo_extractor) == 1 and result.pose.canvas == (SIZE, SIZE)
    assert result.character.shape == (SIZE, SIZE, 3) and result.character.dtype == np.uint8
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == ["image", "pose", "character"]


# ----------------------------------------------------------------------------------------------
# Missing weights: one sentence each


def test_missing_stable_diffusion(tmp_path):
    with pytest.raises(WeightsMissing) as error:
        imagine_image("a dancer", sd_dir=tmp_path, **FAST)
    assert str(error.value) == (
        f"Stable Diffusion weights were not found in {tmp_path}: put a diffusers-format Stable Diffusion 1.5 folder "
        "there (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) or pass --sd DIR.")
    with pytest.raises(WeightsMissing, match=r"^Stable Diffusion weights were not found \(no folder was set\): .* "
                                             r"folder somewhere \(model_index.json, .*\) and pass --sd DIR\.$"):
        imagine_pose("a dancer", sd_dir=None)
    (tmp_path / "model_index.json").write_text("{}")  # a folder with only some of the parts
    for part in imagine.SD_MODEL_PARTS:
        (tmp_path / part).mkdir()
    with pytest.raises(WeightsMissing, match="Stable Diffusion weights were not found"):
        render_character(_standing(64, 64), "a dancer", sd_dir=tmp_path, controlnet_dir=tmp_path)


def test_missing_controlnet_fails_before_the_image(sd_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(imagine, "imagine_image", lambda *a, **k: pytest.fail("the image was made"))
    with pytest.raises(WeightsMissing) as error:
        imagine_pose("a dancer", sd_dir=sd_dir, controlnet_dir=tmp_path, **FAST)
    assert str(error.value) == (
        f"ControlNet-OpenPose weights were not found in {tmp_path}: put a diffusers-format ControlNet OpenPose "
        "folder for Stable Diffusion 1.5 there (config.json and diffusion_pytorch_model.safetensors, "
        "e.g. from lllyasviel/sd-controlnet-openpose) or pass --controlnet DIR.")


def test_available_weights(sd_dir, controlnet_dir, openpose_dir, tmp_path):
    present = available_weights(sd_dir, controlnet_dir, openpose_dir)
    assert present == {"stable_diffusion": True, "controlnet": True, "openpose": True, "pose_detector": "openpose",
                       "stable_diffusion_help": "", "controlnet_help": "", "openpose_help": ""}
    absent = available_weights(tmp_path, None, tmp_path)
    assert not absent["stable_diffusion"] and not absent["controlnet"] and not absent["openpose"]
    assert absent["pose_detector"] in ("photo", "none")
    assert absent["stable_diffusion_help"] == imagine.stable_diffusion_missing(tmp_path)
    assert absent["controlnet_help"].startswith("ControlNet-OpenPose weights were not found (no folder was set)")
    assert absent["openpose_help"] == imagine.openpose_missing(tmp_path)
