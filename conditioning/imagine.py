"""The "Generated" key-pose source: text -> Stable Diffusion image -> OpenPose skeleton (-> character).

`imagine_pose` runs three steps over the helpers below:
1. `imagine_image`: Stable Diffusion 1.5 (diffusers `StableDiffusionPipeline`) draws one person
   from the prompt.
2. `pose_from_image`: controlnet-aux's OpenPose body network finds that person's COCO-18
   keypoints; without its weights the photo extractor (`conditioning/photo.py`) is used instead.
3. `render_character` (optional, with ControlNet-OpenPose weights): the skeleton, drawn in the
   OpenPose colours, conditions `StableDiffusionControlNetPipeline`, so the user sees a character
   standing in exactly that pose.

Every weight comes from a local folder the user names; nothing is fetched (`local_files_only`).
A folder without the weights raises `WeightsMissing` whose one-sentence message says which
weights go where; `available_weights` reports the same for a settings dialog.

Images are (H, W, 3) uint8 RGB arrays. A Pose2D is in pixels of its image (x right, y down).
torch, diffusers and controlnet-aux are imported inside the functions: importing this module is
cheap. Loaded models are kept (one of each kind) until `release_models()`.
"""

import functools
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keymask.conditioning.poses import COCO18_JOINTS, Pose2D
from keymask.core.errors import KeyMaskError
from keymask.core.generation.masked_decoding import GenerationCancelled

PathLike = str | os.PathLike
Progress = Callable[[str, int, int], None]  # (stage, done, total); stage is "image", "pose" or "character"
Cancel = Callable[[], bool]  # True stops the diffusion (GenerationCancelled is raised)

# Added to the user's prompt by imagine_pose so that the image shows one whole body to detect.
POSE_PROMPT_SUFFIX = ", full body, one person, plain background"
POSE_NEGATIVE_PROMPT = "cropped, out of frame, multiple people, crowd, blurry"
DEFAULT_SIZE = 512  # Stable Diffusion 1.5 is trained at 512 x 512
DETECT_RESOLUTION = 512  # OpenPose looks at images whose longer side is at most this

SD_MODEL_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
OPENPOSE_BODY_FILE = "body_pose_model.pth"

_LOCK = threading.RLock()  # one diffusion or detection at a time: the pipelines share modules


class WeightsMissing(KeyMaskError, RuntimeError):
    """Weights this step needs are not in the folder given; the message says which and where."""


@dataclass
class ImaginedPose:
    pose: Pose2D  # the skeleton found in `image`, in its pixels
    image: np.ndarray  # (H, W, 3) uint8, the Stable Diffusion image
    character: np.ndarray | None = None  # (H, W, 3) uint8, a character rendered in `pose` (ControlNet)


# ----------------------------------------------------------------------------------------------
# Which weights are where


def _where(directory: PathLike | None, place: str) -> tuple[str, str, str]:
    """The words for the folder: ('in DIR', 'there', 'or'), or for no folder ('(no folder was set)', place, 'and')."""
    if directory is None or str(directory) == "":
        return "(no folder was set)", place, "and"
    return f"in {directory}", "there", "or"


def stable_diffusion_missing(directory: PathLike | None) -> str:
    where, there, conj = _where(directory, "somewhere")
    return (f"Stable Diffusion weights were not found {where}: put a diffusers-format Stable Diffusion 1.5 "
            f"folder {there} (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) "
            f"{conj} pass --sd DIR.")


def controlnet_missing(directory: PathLike | None) -> str:
    where, there, conj = _where(directory, "somewhere")
    return (f"ControlNet-OpenPose weights were not found {where}: put a diffusers-format ControlNet OpenPose "
            f"folder for Stable Diffusion 1.5 {there} (config.json and diffusion_pytorch_model.safetensors, "
            f"e.g. from lllyasviel/sd-controlnet-openpose) {conj} pass --controlnet DIR.")


def openpose_missing(directory: PathLike | None) -> str:
    where, there, conj = _where(directory, "in a folder")
    return (f"OpenPose body weights were not found {where}: put {OPENPOSE_BODY_FILE} from lllyasviel/Annotators "
            f"{there} (licensed for non-commercial use only) {conj} pass --openpose DIR.")


def _has_weights(folder: Path) -> bool:
    return any(p.suffix in (".safetensors", ".bin") for p in folder.glob("*"))


def _has_stable_diffusion(directory: PathLike | None) -> bool:
    if not directory or not Path(directory).is_dir():
        return False
    root = Path(directory)
    if not (root / "model_index.json").is_file() or not all((root / part).is_dir() for part in SD_MODEL_PARTS):
        return False
    return all(_has_weights(root / part) for part in ("unet", "vae", "text_encoder"))


def _has_controlnet(directory: PathLike | None) -> bool:
    if not directory or not Path(directory).is_dir():
        return False
    return (Path(directory) / "config.json").is_file() and _has_weights(Path(directory))


def _openpose_file(directory: PathLike | None) -> Path | None:
    if not directory:
        return None
    path = Path(directory) / OPENPOSE_BODY_FILE
    return path if path.is_file() else None


def _photo_extractor_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("keymask.conditioning.photo") is not None


def available_weights(sd_dir: PathLike | None, controlnet_dir: PathLike | None,
                      openpose_dir: PathLike | None) -> dict[str, bool | str]:
    """What is present, for the settings dialog: a bool per model, the sentence to show where one is
    missing ("" where present), and the detector `pose_from_image` will use ("openpose", "photo" or "none")."""
    sd = _has_stable_diffusion(sd_dir)
    controlnet = _has_controlnet(controlnet_dir)
    openpose = _openpose_file(openpose_dir) is not None
    detector = "openpose" if openpose else ("photo" if _photo_extractor_installed() else "none")
    return {
        "stable_diffusion": sd,
        "controlnet": controlnet,
        "openpose": openpose,
        "pose_detector": detector,
        "stable_diffusion_help": "" if sd else stable_diffusion_missing(sd_dir),
        "controlnet_help": "" if controlnet else controlnet_missing(controlnet_dir),
        "openpose_help": "" if openpose else openpose_missing(openpose_dir),
    }


def _require_stable_diffusion(sd_dir: PathLike | None) -> Path:
    if not _has_stable_diffusion(sd_dir):
        raise WeightsMissing(stable_diffusion_missing(sd_dir))
    return Path(sd_dir).resolve()


def _require_controlnet(controlnet_dir: PathLike | None) -> Path:
    if not _has_controlnet(controlnet_dir):
        raise WeightsMissing(controlnet_missing(controlnet_dir))
    return Path(controlnet_dir).resolve()


# ----------------------------------------------------------------------------------------------
# Loading (cached: one model of each kind)


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def _dtype(device: str):
    import torch

    return torch.float16 if device.startswith("cuda") else torch.float32


def _stamp(path: Path) -> int:  # reload when the folder's files change
    return path.stat().st_mtime_ns


@functools.lru_cache(maxsize=1)
def _stable_diffusion(folder: str, stamp: int, device: str):
    from diffusers import StableDiffusionPipeline

    try:
        pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True, dtype=_dtype(device))
    except OSError as error:  # a part's weights file is missing or unreadable
        raise WeightsMissing(stable_diffusion_missing(folder)) from error
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


@functools.lru_cache(maxsize=1)
def _controlnet(folder: str, stamp: int, device: str):
    from diffusers import ControlNetModel

    try:
        model = ControlNetModel.from_pretrained(folder, local_files_only=True, dtype=_dtype(device))
    except OSError as error:
        raise WeightsMissing(controlnet_missing(folder)) from error
    return model.to(device)


@functools.lru_cache(maxsize=1)
def _openpose(path: str, stamp: int, device: str):
    """controlnet-aux's OpenposeDetector with the body network only (hands and face are not needed)."""
    with warnings.catch_warnings():  # its package import warns about optional extras we do not use
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose import Body, OpenposeDetector

    try:
        body = Body(path)  # torch.load + a state dict keyed like "conv1_1.weight"
    except KeyError as error:
        raise ValueError(f"{path} is not an OpenPose body model: it has no weight named {error}.") from None
    return OpenposeDetector(body.to(device))


def release_models() -> None:
    """Forget the loaded pipelines and detector (frees their memory; the next call loads again)."""
    with _LOCK:
        for loader in (_stable_diffusion, _controlnet, _openpose):
            loader.cache_clear()


# ----------------------------------------------------------------------------------------------
# Small helpers


def _width_height(size: int | tuple[int, int]) -> tuple[int, int]:
    width, height = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if width <= 0 or height <= 0 or width % 8 or height % 8:
        raise ValueError(f"Image size must be positive multiples of 8 pixels; got {width} x {height}.")
    return width, height


def _as_rgb(image) -> np.ndarray:
    """A path, PIL image or array -> (H, W, 3) uint8 RGB."""
    from PIL import Image

    if isinstance(image, (str, os.PathLike)):
        with Image.open(image) as opened:
            return np.asarray(opened.convert("RGB"))
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"Pass an 8-bit image (uint8 array); got {array.dtype}.")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)  # (H, W) -> (H, W, 3)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"Pass an (H, W, 3) RGB image; got shape {array.shape}.")
    return np.ascontiguousarray(array[:, :, :3])


def _to_uint8(images: np.ndarray) -> np.ndarray:  # (1, H, W, 3) floats in [0, 1] -> (H, W, 3) uint8
    return (np.clip(images[0], 0.0, 1.0) * 255).round().astype(np.uint8)


def _step_callback(stage: str, progress: Progress | None, cancel: Cancel | None, state: dict):
    """diffusers' callback_on_step_end: reports progress and asks the pipeline to stop on cancel.

    It counts denoising passes, which some schedulers make one more of than `steps` (PNDM's warm-up).
    """

    def on_step_end(pipe, step: int, timestep, tensors: dict) -> dict:
        total = pipe.num_timesteps
        if progress is not None:
            progress(stage, step + 1, total)
        if cancel is not None and cancel():
            state["cancelled"] = f"after {step + 1} of {total} steps"
            pipe._interrupt = True  # diffusers skips the remaining steps
        return tensors

    return on_step_end


def _generator(seed: int):
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))  # same noise on every device


# ----------------------------------------------------------------------------------------------
# 1. Text -> image


def imagine_image(prompt: str, *, sd_dir: PathLike | None, steps: int = 25, guidance: float = 7.5,
                  seed: int = 0, size: int | tuple[int, int] = DEFAULT_SIZE, negative_prompt: str | None = None,
                  device: str | None = None, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> np.ndarray:
    """Stable Diffusion text -> (H, W, 3) uint8 image; `size` is an int or (width, height), multiples of 8."""
    folder = _require_stable_diffusion(sd_dir)
    width, height = _width_height(size)
    device = _device(device)
    with _LOCK:
        pipe = _stable_diffusion(str(folder), _stamp(folder), device)
        state: dict = {}
        images = pipe(prompt, negative_prompt=negative_prompt, height=height, width=width,
                      num_inference_steps=steps, guidance_scale=guidance, generator=_generator(seed),
                      output_type="np", callback_on_step_end=_step_callback("image", progress, cancel, state),
                      ).images
    if "cancelled" in state:
        raise GenerationCancelled(f"Image generation cancelled {state['cancelled']}.")
    return _to_uint8(images)


# ----------------------------------------------------------------------------------------------
# 2. Image -> skeleton


def _pose_from_detections(poses: list, width: int, height: int) -> Pose2D:
    """controlnet-aux PoseResults (body keypoints normalised to [0, 1], None where missing) -> the
    Pose2D of the most complete person, in pixels of a width x height image; an empty Pose2D when
    nobody was found."""
    keypoints = np.zeros((len(COCO18_JOINTS), 2))
    confidence = np.zeros(len(COCO18_JOINTS))
    source = {"extractor": "openpose", "people": len(poses)}
    if poses:
        person = max(range(len(poses)), key=lambda i: (poses[i].body.total_parts, poses[i].body.total_score))
        for j, point in enumerate(poses[person].body.keypoints[:len(COCO18_JOINTS)]):
            if point is not None:
                keypoints[j] = (point.x * width, point.y * height)
                confidence[j] = np.clip(point.score, 0.0, 1.0)
        source["person"] = person
    return Pose2D(keypoints, confidence, (width, height), source=source)


def pose_from_image(image, *, openpose_dir: PathLike | None = None, device: str | None = None) -> Pose2D:
    """An image (path, PIL image or (H, W, 3) uint8 RGB array) -> the COCO-18 Pose2D of its most
    complete person, in its pixels, with confidences (all 0 when nobody is found).

    Uses the OpenPose body network from `openpose_dir`; when that folder is not set or lacks
    body_pose_model.pth, the photo extractor instead (WeightsMissing if that is not installed either).
    """
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    weights = _openpose_file(openpose_dir)
    if weights is None:
        try:
            from keymask.conditioning.photo import extract_pose
        except ImportError as error:
            raise WeightsMissing(openpose_missing(openpose_dir)) from error
        pose = extract_pose(rgb)
        pose.source.setdefault("fallback_from", "openpose")
        return pose

    # Detect on a copy whose longer side is at most DETECT_RESOLUTION: the keypoints come back
    # normalised, so they map straight onto the full-size image.
    scale = DETECT_RESOLUTION / max(width, height)
    small = rgb
    if scale < 1:
        from PIL import Image

        small = np.asarray(Image.fromarray(rgb).resize((max(1, round(width * scale)), max(1, round(height * scale))),
                                                       Image.Resampling.BILINEAR))
    with _LOCK:
        detector = _openpose(str(weights), _stamp(weights), _device(device))
        poses = detector.detect_poses(small)  # takes RGB; body keypoints in [0, 1]
    pose = _pose_from_detections(poses, width, height)
    if isinstance(image, (str, os.PathLike)):
        pose.source["file"] = str(image)
    return pose


# ----------------------------------------------------------------------------------------------
# 3. Skeleton -> character


def _fit(canvas: tuple[int, int], size: int | tuple[int, int] | None) -> tuple[int, int]:
    """The render size: `size`, or the canvas scaled to a longer side of DEFAULT_SIZE, in multiples of 8."""
    if size is not None:
        return _width_height(size)
    scale = DEFAULT_SIZE / max(canvas)
    return tuple(max(8, round(side * scale / 8) * 8) for side in canvas)


def render_character(pose: Pose2D, prompt: str, *, sd_dir: PathLike | None, controlnet_dir: PathLike | None,
                     steps: int = 25, guidance: float = 7.5, seed: int = 0, size: int | tuple[int, int] | None = None,
                     conditioning_scale: float = 1.0, negative_prompt: str | None = None, device: str | None = None,
                     progress: Progress | None = None, cancel: Cancel | None = None) -> np.ndarray:
    """A character standing in `pose`: the skeleton in OpenPose colours conditions Stable Diffusion
    through ControlNet-OpenPose. Returns (H, W, 3) uint8 at `size` (default: the pose's canvas
    scaled to a longer side of 512)."""
    sd_folder = _require_stable_diffusion(sd_dir)
    controlnet_folder = _require_controlnet(controlnet_dir)
    width, height = _fit(pose.canvas, size)
    from PIL import Image

    from keymask.conditioning.render import render_openpose

    skeleton = Image.fromarray(render_openpose(pose, size=(width, height)))  # the pose scaled onto the output

    device = _device(device)
    with _LOCK:
        from diffusers import StableDiffusionControlNetPipeline

        sd = _stable_diffusion(str(sd_folder), _stamp(sd_folder), device)
        controlnet = _controlnet(str(controlnet_folder), _stamp(controlnet_folder), device)
        # The same modules as the Stable Diffusion pipeline, plus the ControlNet: no second copy.
        pipe = StableDiffusionControlNetPipeline.from_pipe(sd, controlnet=controlnet, dtype=sd.unet.dtype)
        pipe.set_progress_bar_config(disable=True)
        state: dict = {}
        images = pipe(prompt, image=skeleton, negative_prompt=negative_prompt, height=height, width=width,
                      num_inference_steps=steps, guidance_scale=guidance,
                      controlnet_conditioning_scale=conditioning_scale, generator=_generator(seed), output_type="np",
                      callback_on_step_end=_step_callback("character", progress, cancel, state)).images
    if "cancelled" in state:
        raise GenerationCancelled(f"Character rendering cancelled {state['cancelled']}.")
    return _to_uint8(images)


# ----------------------------------------------------------------------------------------------
# All three


def imagine_pose(prompt: str, *, sd_dir: PathLike | None, openpose_dir: PathLike | None = None,
                 controlnet_dir: PathLike | None = None, steps: int = 25, guidance: float = 7.5, seed: int = 0,
                 size: int | tuple[int, int] = DEFAULT_SIZE, framing: bool = True, device: str | None = None,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> ImaginedPose:
    """Text -> Stable Diffusion image -> skeleton, and with `controlnet_dir` a character rendered
    back in that skeleton (skipped when nobody was found in the image).

    `framing` adds POSE_PROMPT_SUFFIX and POSE_NEGATIVE_PROMPT to ask for one whole body.
    """
    # 1. Check every folder first, so a missing ControlNet fails before the image is made.
    _require_stable_diffusion(sd_dir)
    if controlnet_dir is not None:
        _require_controlnet(controlnet_dir)

    # 2. Image.
    options = dict(sd_dir=sd_dir, steps=steps, guidance=guidance, seed=seed, device=device,
                   progress=progress, cancel=cancel)
    image = imagine_image(prompt + (POSE_PROMPT_SUFFIX if framing else ""),
                          negative_prompt=POSE_NEGATIVE_PROMPT if framing else None, size=size, **options)

    # 3. Skeleton.
    if progress is not None:
        progress("pose", 0, 1)
    pose = pose_from_image(image, openpose_dir=openpose_dir, device=device)
    pose.source.update(generator="stable-diffusion", prompt=prompt, seed=seed)
    if progress is not None:
        progress("pose", 1, 1)

    # 4. Character in that skeleton.
    character = None
    if controlnet_dir is not None and pose.present.any():
        character = render_character(pose, prompt, controlnet_dir=controlnet_dir, size=pose.canvas, **options)
    return ImaginedPose(pose=pose, image=image, character=character)
