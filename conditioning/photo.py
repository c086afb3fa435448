"""Key pose from a photo: mediapipe's BlazePose, offline, for one chosen person.

Input: a path to an image file, or an RGB uint8 array (H, W, 3).
Output: a `Pose2D` in the photo's pixels (x right, y down, canvas = the photo's size), with
`world` = the same 18 joints from mediapipe's world landmarks: metres, origin between the hips,
camera axes (x to the photo's right, y down, z away from the camera).

It needs mediapipe 0.10.21, the last release whose wheel carries the pose models
(pose_detection.tflite, pose_landmark_full.tflite), installed without its declared
dependencies (see MEDIAPIPE_INSTALL). It runs what `mp.solutions.pose.Pose(static_image_mode=True,
model_complexity=1)` runs, in two graphs built from the same mediapipe subgraphs, because that
solution keeps only the first person its detector finds:

1. read the photo (Pillow, EXIF orientation applied);
2. find every person with mediapipe's pose detector (`PoseDetectionCpu`) and number them left to
   right by the centre of their hips;
3. crop around the chosen person, so that a small person in a large photo fills the detector's
   224-pixel input, and detect again there, keeping the detection nearest the first one;
4. run the landmark model on that detection (`PoseDetectionToRoi` + `PoseLandmarkByRoiCpu`),
   then map its 33 landmarks to COCO-18 and back to the photo's pixels;
5. read the same person again in the photo flipped left for right (steps 2-4), map that reading
   back onto the photo, and average the two (see `BOTH_WAYS`).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keymask.core.errors import KeyMaskError

from .poses import COCO18_JOINTS, FACE_POINTS, Pose2D

MEDIAPIPE_VERSION = "0.10.21"
# mediapipe's declared dependencies pull jax, jaxlib, sounddevice and opencv-contrib-python (a
# second OpenCV in our `cv2` folder); its pose solution needs only these.
MEDIAPIPE_INSTALL = (
    "pip install 'protobuf>=4.25.3,<5' 'attrs>=19.1' 'matplotlib>=3.5' "
    f"&& pip install --no-deps mediapipe=={MEDIAPIPE_VERSION}"
)

# A body joint less visible than MIN_VISIBILITY is a missing joint (confidence 0); a face point
# needs MIN_FACE_VISIBILITY too, since a face point marked present tells the lifter the body faces
# the camera. 0.35 (it was 0.5) was chosen on 98 rendered mannequins of validation-split poses,
# apart from the benchmark's test poses (`python bench/lifting_rendered.py --split val --seed 7
# --min-visibility 0.5 0.35`): mediapipe's guess of a half-hidden joint
# lifts better than no joint (P-MPJPE 32.6 mm against 37.1, 6 poses over 80 mm against 11).
MIN_VISIBILITY = 0.35
MIN_FACE_VISIBILITY = 0.5
# Reading the photo flipped left for right as well, and averaging the two readings, cancels part of
# each one's error: on the same 98 validation renders, lifted P-MPJPE 30.9 mm against 32.6 (median
# 20.4 against 21.9; the poses over 80 mm, which mediapipe misreads both ways, stay 6). A joint
# seen in one reading only is taken from it. It costs a second run of both models.
BOTH_WAYS = True
MIN_DETECTION_SCORE = 0.5  # mediapipe Pose's default min_detection_confidence
MIN_PRESENCE_SCORE = 0.5  # mediapipe Pose's default min_tracking_confidence
CROP_SCALE = 1.5  # crop side / diameter of the detector's whole-body circle (its own ROI uses 1.25)
SAME_PERSON = 0.5  # a detection in the crop is the same person if its hips are within this many radii

# mediapipe's 33 landmarks: the ones each COCO-18 joint takes; the neck is the shoulders' midpoint.
_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER = 11, 12
# mediapipe's 33 landmarks with every left and right one swapped (nose; eyes 1-3 and 4-6; then pairs).
_MP_LEFT_RIGHT_SWAPPED = (0, 4, 5, 6, 1, 2, 3, *(j + 1 if j % 2 else j - 1 for j in range(7, 33)))
_COCO18_FROM_MEDIAPIPE = {
    "nose": 0,
    "right_shoulder": 12, "right_elbow": 14, "right_wrist": 16,
    "left_shoulder": 11, "left_elbow": 13, "left_wrist": 15,
    "right_hip": 24, "right_knee": 26, "right_ankle": 28,
    "left_hip": 23, "left_knee": 25, "left_ankle": 27,
    "right_eye": 5, "left_eye": 2, "right_ear": 8, "left_ear": 7,
}

# The detector's 4 keypoints: hip centre, a point on the circle around the whole body, then the
# same two for the upper body.
_HIP_CENTRE, _BODY_CIRCLE = 0, 1

_DETECTOR_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""

_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "detection"
input_side_packet: "model_complexity"
input_side_packet: "enable_segmentation"
output_stream: "landmarks"
output_stream: "world_landmarks"
node {
  calculator: "ImagePropertiesCalculator"
  input_stream: "IMAGE_CPU:image"
  output_stream: "SIZE:image_size"
}
node {
  calculator: "PoseDetectionToRoi"
  input_stream: "DETECTION:detection"
  input_stream: "IMAGE_SIZE:image_size"
  output_stream: "ROI:roi"
}
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_side_packet: "ENABLE_SEGMENTATION:enable_segmentation"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "WORLD_LANDMARKS:world_landmarks"
}
"""


@contextmanager
def _no_display():
    """Build mediapipe's graphs with no display in sight. With one, its graph opens an OpenGL
    context it does not need for these CPU graphs; under Mesa's llvmpipe (Xvfb, servers) that
    loads Mesa's LLVM, and a later import of triton (torch's compiler, pulled in by diffusers or
    torchvision) then crashes the process on the clashing LLVM. Qt keeps its own connection."""
    saved = {name: os.environ.pop(name) for name in ("DISPLAY", "WAYLAND_DISPLAY") if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextmanager
def native_logs_silenced():
    """mediapipe's C++ code logs start-up chatter straight to file descriptor 2: hide it while a
    photo is read (Python errors are unaffected; they are raised after the descriptor is back)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class PoseExtractionError(KeyMaskError, ValueError):
    """A photo gave no pose; the message is one sentence that names the file."""


class ImageError(PoseExtractionError):
    """The file is missing, empty, or not an image that can be read."""


class NoPersonError(PoseExtractionError):
    """No person (or no body landmarks) was found in the photo."""


class SeveralPeopleError(PoseExtractionError):
    """Several people were found and none was chosen."""

    def __init__(self, message: str, count: int = 0) -> None:
        super().__init__(message)
        self.count = count

    def __reduce__(self):  # keeps the count when the error comes back from extract_pose_apart's process
        return type(self), (str(self), self.count)


class MediapipeMissingError(PoseExtractionError):
    """mediapipe (the version that ships its pose models) cannot be imported."""


def extract_pose(
    image: str | os.PathLike | np.ndarray,
    *,
    person: int | None = None,
    min_visibility: float = MIN_VISIBILITY,
) -> Pose2D:
    """The COCO-18 pose of one person in a photo.

    `person` numbers the people found from left to right, 1 = leftmost; it may be left out only
    when the photo shows one person. Joints less visible than `min_visibility` (face points: than
    MIN_FACE_VISIBILITY too), or outside the photo, get confidence 0 (and NaN world positions). Opens and closes mediapipe's graphs: for
    many photos, keep a `PhotoPoseExtractor` open instead.
    """
    _check_person(person)
    photo = _read_image(image)
    with PhotoPoseExtractor() as extractor:
        return extractor._extract(photo, person, min_visibility)


def extract_pose_apart(
    image: str | os.PathLike | np.ndarray,
    *,
    person: int | None = None,
    min_visibility: float = MIN_VISIBILITY,
) -> Pose2D:
    """`extract_pose` in a process of its own, for programs that must not be disturbed (the studio).

    mediapipe has to be built with no display in sight and logs to file descriptor 2 from C++;
    both are changed in that process only, so this process's other threads (a GUI, its own
    logging) never see DISPLAY or stderr change. Errors come back as the same classes. Starting
    the process costs about a second beside the photo's own reading.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _check_person(person)
    image = os.fspath(image) if isinstance(image, (str, os.PathLike)) else np.asarray(image)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_quiet_process) as pool:
        return pool.submit(extract_pose, image, person=person, min_visibility=min_visibility).result()


def _quiet_process() -> None:
    """In extract_pose_apart's process: no display, and native logs to /dev/null."""
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


class PhotoPoseExtractor:
    """mediapipe's pose detector and landmark model as two graphs, kept open for several photos.

    with PhotoPoseExtractor() as extractor:
        poses = [extractor.extract(path) for path in paths]

    The first photo pays for loading the models (about 0.2 s); later ones cost only their runs.
    """

    def __init__(self) -> None:
        self._mediapipe = _import_mediapipe()
        self.version: str = self._mediapipe["version"]
        self._graphs: ExitStack | None = None

    def __enter__(self) -> PhotoPoseExtractor:
        solution_base, parse = self._mediapipe["SolutionBase"], self._mediapipe["parse"]
        with _no_display(), ExitStack() as stack:
            self._detector = stack.enter_context(solution_base(
                graph_config=parse(_DETECTOR_GRAPH),
                calculator_params={
                    "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": MIN_DETECTION_SCORE},
            ))
            self._landmarker = stack.enter_context(solution_base(
                graph_config=parse(_LANDMARK_GRAPH),
                side_inputs={"model_complexity": 1, "enable_segmentation": False},
                calculator_params={
                    "poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__ThresholdingCalculator"
                    ".threshold": MIN_PRESENCE_SCORE},
            ))
            self._graphs = stack.pop_all()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._graphs is not None:
            self._graphs.close()
            self._graphs = None

    def extract(self, image: str | os.PathLike | np.ndarray, *, person: int | None = None,
                min_visibility: float = MIN_VISIBILITY, both_ways: bool = BOTH_WAYS) -> Pose2D:
        """Same as `extract_pose`, with the graphs already open; `both_ways=False` reads the photo
        only as it is (see BOTH_WAYS)."""
        _check_person(person)
        return self._extract(_read_image(image), person, min_visibility, both_ways)

    def _extract(self, photo: _Photo, person: int | None, min_visibility: float, both_ways: bool = BOTH_WAYS) -> Pose2D:
        if self._graphs is None:
            raise RuntimeError("PhotoPoseExtractor is used outside its `with` block.")
        name = photo.name
        people = sorted(self._detect(photo.rgb), key=lambda d: d.hip[0])  # left to right
        if not people:
            raise NoPersonError(
                f"No person was found in {name}: the detector needs a person whose face and body "
                "are clearly visible.")
        if person is None and len(people) > 1:
            raise SeveralPeopleError(
                f"{len(people)} people were found in {name}: choose one with --person N (1 = leftmost).",
                len(people))
        index = person or 1
        if index > len(people):
            found = "1 person was" if len(people) == 1 else f"{len(people)} people were"
            raise PoseExtractionError(
                f"Person {index} was asked for, but {found} found in {name} (1 = leftmost).")
        landmarks = self._landmarks_near(photo.rgb, people[index - 1])
        if landmarks is None:
            raise NoPersonError(f"A person was found in {name}, but not the landmarks of their body.")
        height, width = photo.rgb.shape[:2]
        source = {"extractor": f"mediapipe-pose {self.version}", "file": photo.file, "person": index,
                  "people": len(people)}
        pose = _to_pose2d(*landmarks, canvas=(width, height), min_visibility=min_visibility, source=source)
        flipped = self._landmarks_flipped(photo.rgb, people[index - 1]) if both_ways else None
        if flipped is None:
            return pose
        return _averaged(pose, _to_pose2d(*flipped, canvas=(width, height), min_visibility=min_visibility,
                                          source=source))

    def _landmarks_flipped(self, rgb: np.ndarray, person: _Detection):
        """The person's landmarks read in the photo flipped left for right, mapped back onto the photo
        (pixels (33, 2), visibility (33,), world (33, 3)), or None when the flipped photo does not
        show them there."""
        width = rgb.shape[1]
        flipped = np.ascontiguousarray(rgb[:, ::-1])
        hip = np.array([width - person.hip[0], person.hip[1]])
        near = [d for d in self._detect(flipped) if np.linalg.norm(d.hip - hip) <= SAME_PERSON * person.radius]
        if not near:
            return None
        landmarks = self._landmarks_near(flipped, min(near, key=lambda d: np.linalg.norm(d.hip - hip)))
        if landmarks is None:
            return None
        pixels, visibility, world = landmarks
        order = list(_MP_LEFT_RIGHT_SWAPPED)  # the flipped photo's left hand is the person's right
        pixels = np.column_stack([width - pixels[:, 0], pixels[:, 1]])
        return pixels[order], visibility[order], world[order] * np.array([-1.0, 1.0, 1.0])

    def _detect(self, rgb: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[_Detection]:
        """Every person the detector finds in rgb (H, W, 3), placed in the photo by offset."""
        height, width = rgb.shape[:2]
        found = []
        for proto in self._detector.process({"image": rgb}).detections or []:
            points = proto.location_data.relative_keypoints
            hip = np.array([points[_HIP_CENTRE].x * width, points[_HIP_CENTRE].y * height])  # (2,)
            edge = np.array([points[_BODY_CIRCLE].x * width, points[_BODY_CIRCLE].y * height])  # (2,)
            found.append(_Detection(hip + offset, float(np.linalg.norm(edge - hip)), proto, offset))
        return found

    def _landmarks_near(self, rgb: np.ndarray, person: _Detection):
        """(pixels (33, 2), visibility (33,), world (33, 3)) of one detected person, or None.

        Detects again in a crop around the person and keeps the detection whose hips are nearest;
        falls back to the first detection when the crop finds no one there."""
        x0, y0, x1, y1 = _crop_box(person.hip, person.radius, rgb.shape[1], rgb.shape[0])
        if (x1 - x0, y1 - y0) == (rgb.shape[1], rgb.shape[0]):
            return self._landmarks(rgb, person)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])  # (h, w, 3)
        near = [d for d in self._detect(crop, (x0, y0))
                if np.linalg.norm(d.hip - person.hip) <= SAME_PERSON * person.radius]
        if not near:
            return self._landmarks(rgb, person)
        return self._landmarks(crop, min(near, key=lambda d: np.linalg.norm(d.hip - person.hip)))

    def _landmarks(self, rgb: np.ndarray, detection: _Detection):
        height, width = rgb.shape[:2]
        output = self._landmarker.process({"image": rgb, "detection": detection.proto})
        if output.landmarks is None or output.world_landmarks is None:
            return None
        image = np.array([(p.x, p.y, p.visibility) for p in output.landmarks.landmark])  # (33, 3)
        world = np.array([(p.x, p.y, p.z) for p in output.world_landmarks.landmark])  # (33, 3)
        pixels = image[:, :2] * (width, height) + detection.offset  # (33, 2) photo pixels
        return pixels, image[:, 2], world


def _check_person(person: int | None) -> None:
    if person is not None and person < 1:
        raise PoseExtractionError(f"--person counts from 1 (the leftmost person), not {person}.")


# ---- reading the photo -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Photo:
    rgb: np.ndarray  # (H, W, 3) uint8
    file: str | None  # the path it was read from
    name: str  # what messages call it


def _read_image(image: str | os.PathLike | np.ndarray) -> _Photo:
    if isinstance(image, np.ndarray):
        return _Photo(_rgb_array(image), None, "the image array")
    path = Path(image)
    name = str(path)
    if not path.exists():
        raise ImageError(f"The image file {name} does not exist.")
    if path.is_dir():
        raise ImageError(f"{name} is a folder, not an image file.")
    if path.stat().st_size == 0:
        raise ImageError(f"The image file {name} is empty.")

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened).convert("RGB")  # phones store rotation in EXIF
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image file that can be read (JPEG, PNG, ...).") from None
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt data
        raise ImageError(f"The image file {name} could not be read ({error}).") from None
    return _Photo(_rgb_array(np.asarray(picture), name), name, name)


def _rgb_array(array: np.ndarray, name: str = "the image array") -> np.ndarray:
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"{name} must be RGB uint8 of shape (H, W, 3), not {array.dtype} {array.shape}.")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)  # (H, W) -> (H, W, 3)
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise ImageError(f"{name} is empty ({array.shape[1]}x{array.shape[0]} pixels).")
    return np.ascontiguousarray(array[:, :, :3])  # RGBA -> RGB


# ---- mediapipe --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Detection:
    hip: np.ndarray  # (2,) pixels of the photo: centre of the hips
    radius: float  # pixels: radius of the circle around the whole body
    proto: Any  # mediapipe Detection, relative to the image it was found in
    offset: tuple[int, int] = (0, 0)  # (x, y) of that image in the photo


def _import_mediapipe() -> dict:
    try:
        import mediapipe
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase
    except ImportError as error:
        reason = "it is not installed" if getattr(error, "name", "") == "mediapipe" else f"{error}"
        raise MediapipeMissingError(
            f"Photo extraction needs mediapipe {MEDIAPIPE_VERSION} ({reason}): "
            f"install it with {MEDIAPIPE_INSTALL}.") from error
    models = Path(mediapipe.__file__).parent / "modules"
    if not (models / "pose_detection" / "pose_detection.tflite").exists() or not (
            models / "pose_landmark" / "pose_landmark_full.tflite").exists():
        raise MediapipeMissingError(
            f"mediapipe {mediapipe.__version__} carries no pose model: "
            f"install {MEDIAPIPE_VERSION} with {MEDIAPIPE_INSTALL}.")

    def parse(text: str):
        return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())

    return {"version": mediapipe.__version__, "SolutionBase": SolutionBase, "parse": parse}


def _crop_box(hip: np.ndarray, radius: float, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): a square around the whole-body circle, CROP_SCALE times its diameter,
    cut to the photo."""
    half = CROP_SCALE * radius
    x0, y0 = (max(0, int(np.floor(v - half))) for v in hip)
    x1 = min(width, int(np.ceil(hip[0] + half)))
    y1 = min(height, int(np.ceil(hip[1] + half)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0, 0, width, height
    return x0, y0, x1, y1


# ---- COCO-18 --------------------------------------------------------------------------------


def _averaged(first: Pose2D, second: Pose2D) -> Pose2D:
    """Two readings of one person in one photo as one: joints present in both are averaged, a joint
    present in one only is taken from it."""
    both = first.present & second.present
    only_second = second.present & ~first.present
    keypoints = np.where(both[:, None], (first.keypoints + second.keypoints) / 2,
                         np.where(only_second[:, None], second.keypoints, first.keypoints))
    confidence = np.where(both, (first.confidence + second.confidence) / 2,
                          np.maximum(first.confidence, second.confidence))
    world = np.where(both[:, None], (first.world + second.world) / 2,
                     np.where(only_second[:, None], second.world, first.world))
    return Pose2D(keypoints=keypoints, confidence=confidence, canvas=first.canvas, world=world,
                  source={**first.source, "read": "as it is and flipped, averaged"})


def _to_pose2d(pixels: np.ndarray, visibility: np.ndarray, world: np.ndarray, *, canvas: tuple[int, int],
               min_visibility: float, source: dict) -> Pose2D:
    """mediapipe's 33 landmarks (pixels (33, 2), visibility (33,), world (33, 3)) -> Pose2D."""
    width, height = canvas
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] <= width) & (pixels[:, 1] >= 0) & (pixels[:, 1] <= height)
    confidence33 = np.where(inside, visibility, 0.0)  # (33,)

    keypoints = np.zeros((len(COCO18_JOINTS), 2))
    confidence = np.zeros(len(COCO18_JOINTS))
    world18 = np.full((len(COCO18_JOINTS), 3), np.nan)
    for joint, name in enumerate(COCO18_JOINTS):
        if name == "neck":
            pair = [_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER]
            keypoints[joint] = pixels[pair].mean(axis=0)
            confidence[joint] = confidence33[pair].min()
            world18[joint] = world[pair].mean(axis=0)
        else:
            landmark = _COCO18_FROM_MEDIAPIPE[name]
            keypoints[joint] = pixels[landmark]
            confidence[joint] = confidence33[landmark]
            world18[joint] = world[landmark]
    threshold = np.full(len(COCO18_JOINTS), min_visibility)
    threshold[list(FACE_POINTS)] = max(min_visibility, MIN_FACE_VISIBILITY)
    confidence[confidence < threshold] = 0.0
    world18[confidence == 0] = np.nan
    return Pose2D(keypoints=keypoints, confidence=confidence, canvas=canvas, world=world18, source=source)
