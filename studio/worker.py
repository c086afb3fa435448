"""Long jobs off the GUI thread: generation, photo and imagined key poses, opening motions, export.

`Worker` is a QObject that lives in its own QThread (`WorkerThread` sets that up). It is handed
one job at a time (a frozen dataclass below), calls the same public API as the command line, and
answers with a signal: `finished(job, result)`, `failed(job, message)` with a readable sentence,
or `cancelled(job)`; `progress(stage, done, total)` while it runs. It never touches a widget and
holds no model logic: the pipeline is loaded once and kept until the model location changes.
"""

import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from keymask.conditioning.keyed_generation import KeyFrame
from keymask.conditioning.paths import RootPath
from keymask.conditioning.resolve import StretchKey
from keymask.core.bvh.convert import resample_positions
from keymask.core.errors import KeyMaskError, missing_extra
from keymask.core.generation.masked_decoding import GenerationCancelled
from keymask.core.generation.pipeline import SamplingSettings
from keymask.core.spec import HUMANML3D

GIF_PANEL = 480  # pixels: the exported GIF's figure panel (the command line's 220 px preview is too small to see)


@dataclass(frozen=True)
class GenerateJob:
    """Text (+ key poses) -> `samples` motions, the pelvis on `path` when one is given; with `source` and
    `keep`, regenerate `source` outside `keep` (as long as `source`, through the keys outside `keep`; the
    kept frames stay where they are, so no path is followed)."""

    prompt: str
    frames: int | None  # None: estimated from the text (or, with keys, long enough to pass them)
    samples: int = 1
    seed: int = 0
    settings: SamplingSettings = field(default_factory=SamplingSettings)
    keys: tuple[KeyFrame, ...] = ()
    source: np.ndarray | None = None  # (T, 22, 3) the motion to edit
    keep: tuple[tuple[int, int], ...] = ()  # frame spans [first, end) of `source` to keep
    path: RootPath | None = None  # where the pelvis goes on the floor (conditioning/paths.py)


@dataclass(frozen=True, eq=False)
class ResolveJob:
    """After one key edit: `motions` re-solved inside `stretch` only, through the keys in it (conditioning/
    resolve.py); `moved` (old frame, new frame) when the key was moved in time; `released`: the key as it
    was (deleted, or before its hold or ease changed), whose pull is let go of first. Frames outside the
    stretch come back bit for bit."""

    motions: tuple[np.ndarray, ...]  # (T, 22, 3) each, as the project has them
    keys: tuple[StretchKey, ...]
    stretch: tuple[int, int]  # [first, end) frames
    moved: tuple[int, int] | None = None
    edit: object = None  # the caller's own tag (the studio: its request, with the key command that asked)
    released: StretchKey | None = None


@dataclass(frozen=True)
class PhotoJob:
    """A photo -> its person's 2D pose (the leftmost person when there are several)."""

    image: str


@dataclass(frozen=True)
class ImagineJob:
    """Text -> Stable Diffusion image -> 2D pose."""

    prompt: str
    sd_dir: str
    openpose_dir: str | None = None
    seed: int = 0
    steps: int = 25


@dataclass(frozen=True)
class OpenMotionJob:
    """A motion file -> the 22 joints at 20 fps: a BVH of any rig the mocap importer maps by joint
    names (or a KeyMask BVH), or a joints .npy (T, 22, 3) metres at 20 fps."""

    path: str


@dataclass(frozen=True)
class ExportJob:
    """One motion to a file: "bvh" (with its joints .npy beside), "npy" (joints) or "gif" (a preview).
    A BVH goes onto `rig` (a BVH file's skeleton, its units and axes) when one is given."""

    joints: np.ndarray  # (T, 22, 3) metres, 20 fps
    path: str
    kind: str = "bvh"
    fps: int = HUMANML3D.fps
    units: str = "m"
    rotation_order: str = "ZXY"
    title: str = ""
    rig: str | None = None


@dataclass
class GenerateResult:
    motions: list[np.ndarray]  # (T, 22, 3) each
    seed: int
    edited: bool = False
    warning: str = ""  # what to tell: an action the model has not learned, how actions in turn were made
    credit: str = ""  # the sources of the training clips the motions were made from, with their licences
    credited_sources: tuple[str, ...] = ()  # their names alone


@dataclass
class OpenedMotion:
    joints: np.ndarray  # (T, 22, 3) float32 metres, Y up, 20 fps
    fps: float  # the file's own frame rate (20 for a .npy)
    rig: str = ""  # the file, when its skeleton can take the motion back on export (read_rig), else ""
    note: str = ""  # said to the user beside the result


class MotionFileError(KeyMaskError, ValueError):
    """A file that cannot be opened as a motion, in one sentence naming it."""


@dataclass
class PoseResult:
    pose: object  # Pose2D
    note: str = ""  # said to the user beside the result


def readable(error: BaseException) -> str:
    """One sentence for the user. Our own errors already are one; others get their type named and
    their traceback printed for a bug report."""
    if type(error).__module__.startswith("keymask."):
        return str(error)
    if isinstance(error, ImportError) and (sentence := missing_extra(error)):
        return sentence
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}." if error.filename else f"{error.strerror}."
    traceback.print_exception(error, file=sys.stderr)
    return f"Something went wrong ({type(error).__name__}: {error}); the details were printed to the terminal."


def default_model_folder() -> Path:
    from keymask.resources import RESOURCES_DIR

    return RESOURCES_DIR / "models" / "default"


def frames_for_keys(keys: tuple[KeyFrame, ...], fps: int = HUMANML3D.fps, max_frames: int = HUMANML3D.max_frames
                    ) -> int:
    """The command line's length for a keyed motion with no length given: 4 s, and a second past the last key."""
    last = max(key.frame for key in keys)
    return min(max_frames, max(4 * fps, last + fps))


class Worker(QObject):
    progress = pyqtSignal(str, int, int)  # stage, done, total
    finished = pyqtSignal(object, object)  # job, result
    failed = pyqtSignal(object, str)  # job, message
    cancelled = pyqtSignal(object)  # job

    def __init__(self, model: str | None = None, clip_weights: str | None = None):
        super().__init__()
        self.cancel_event = threading.Event()
        self.model, self.clip_weights = model, clip_weights
        self._pipeline, self._loaded_from = None, None

    def set_model(self, model: str | None, clip_weights: str | None) -> None:
        """Where the next generation loads its models from (None: the shipped default)."""
        self.model, self.clip_weights = model or None, clip_weights or None

    @pyqtSlot(object)
    def run(self, job) -> None:
        try:
            result = self._run(job)
        except GenerationCancelled:
            self.cancelled.emit(job)
        except Exception as error:  # every failure becomes a message, never a crash
            self.failed.emit(job, readable(error))
        else:
            self.finished.emit(job, result)

    def _run(self, job):
        if isinstance(job, GenerateJob):
            return self._generate(job)
        if isinstance(job, PhotoJob):
            return self._photo(job)
        if isinstance(job, ImagineJob):
            return self._imagine(job)
        if isinstance(job, ExportJob):
            return self._export(job)
        if isinstance(job, OpenMotionJob):
            return self._open_motion(job)
        if isinstance(job, ResolveJob):
            return self._resolve(job)
        raise TypeError(f"The worker does not know the job {type(job).__name__}.")

    # ---- jobs ----------------------------------------------------------------------------------

    def pipeline(self):
        """The pipeline of the configured model, loaded on first use and kept."""
        from keymask.core.generation.pipeline import MotionPipeline

        folder = Path(self.model) if self.model else default_model_folder()
        where = (folder, self.clip_weights)
        if self._pipeline is None or self._loaded_from != where:
            if not folder.exists():
                raise FileNotFoundError(2, "The model folder does not exist", str(folder))
            self.progress.emit("loading model", 0, 1)
            self._pipeline = MotionPipeline.from_folder(folder, clip_weights=self.clip_weights)
            self._loaded_from = where
        return self._pipeline

    def _report(self, stage: str, done: int, total: int) -> None:
        self.progress.emit(stage, done, total)

    def _cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def _generate(self, job: GenerateJob) -> GenerateResult:
        pipeline = self.pipeline()
        check = pipeline.check_prompts([job.prompt])[0]
        warning = "" if check.known else check.warning()
        common = dict(seed=job.seed, settings=job.settings, progress=self._report, cancel=self._cancelled)
        if job.source is not None and job.keep:
            from keymask.conditioning.keyed_editing import edit_with_key_poses

            edits = [edit_with_key_poses(pipeline, job.source, job.prompt, list(job.keep), job.keys,
                                         **{**common, "seed": job.seed + i}).joints.astype(np.float32)
                     for i in range(job.samples)]
            return GenerateResult(edits, job.seed, edited=True, warning=warning)
        frames = self._frames(job, pipeline.spec)
        if job.keys:
            from keymask.conditioning.keyed_generation import generate_with_key_poses

            result = generate_with_key_poses(pipeline, [job.prompt], [list(job.keys)], frames=frames,
                                             samples=job.samples, path=job.path, **common)
        else:
            from keymask.core.generation.cleanup import CleanupSettings
            from keymask.core.generation.composition import Request, generate_requests, plan_notes

            result = generate_requests(pipeline, [Request(job.prompt, frames)], samples=job.samples,
                                       cleanup=CleanupSettings(), **common)
            warning = " ".join(filter(None, (warning, *plan_notes(result))))
        motions = [m.joints for m in result.motions]
        if job.path is not None and not job.keys:  # as the command line's --path (with keys, generation follows it)
            from keymask.conditioning.keyed_generation import refine_motion

            motions = [refine_motion(joints, [], path=job.path) for joints in motions]
        sources = {source for motion in result.motions for source in motion.sources}  # none without exemplars
        credit, names = (pipeline.exemplars.credit_sentence(sources), tuple(pipeline.exemplars.source_names(sources))
                         ) if sources else ("", ())
        return GenerateResult([m.astype(np.float32) for m in motions], result.seed, warning=warning, credit=credit,
                              credited_sources=names)

    @staticmethod
    def _frames(job: GenerateJob, spec) -> int | None:
        """The length to generate, as the command line chooses it: the job's; else with keys 4 s and a
        second past the last key; long enough for the path's times; None: estimated from the text. A path
        that cannot be followed over it is refused (PathError) before anything is generated."""
        frames = job.frames
        if frames is None and job.keys:
            frames = frames_for_keys(job.keys)
        if job.path is not None:
            from keymask.conditioning.paths import check_path

            if job.frames is None:
                frames = max(frames or 0, job.path.frames_needed(spec.fps, spec.frames_per_token)) or None
            if frames is not None:
                check_path(job.path, int(round(frames / spec.frames_per_token)) * spec.frames_per_token, spec.fps)
        return frames

    def _resolve(self, job: "ResolveJob") -> list[np.ndarray]:
        from keymask.conditioning.resolve import release_stretch, resolve_stretch

        if job.released is not None:
            motions = [release_stretch(motion, job.released, job.stretch) for motion in job.motions]
        else:
            motions = job.motions
        return [resolve_stretch(motion, job.keys, job.stretch, moved=job.moved) for motion in motions]

    def _photo(self, job: PhotoJob) -> PoseResult:
        from keymask.conditioning.photo import SeveralPeopleError, extract_pose_apart

        self.progress.emit("finding the pose", 0, 1)
        try:
            return PoseResult(extract_pose_apart(job.image))
        except SeveralPeopleError as error:
            return PoseResult(extract_pose_apart(job.image, person=1),
                              f"{error.count} people are in the photo; the pose is the leftmost one's.")

    def _imagine(self, job: ImagineJob) -> PoseResult:
        from keymask.conditioning.imagine import imagine_pose

        imagined = imagine_pose(job.prompt, sd_dir=job.sd_dir, openpose_dir=job.openpose_dir, seed=job.seed,
                                steps=job.steps, progress=self._report, cancel=self._cancelled)
        if not imagined.pose.present.any():
            return PoseResult(imagined.pose, "Nobody was found in the imagined picture: try another seed or prompt.")
        return PoseResult(imagined.pose)

    def _open_motion(self, job: OpenMotionJob) -> OpenedMotion:
        from keymask.core.bvh.convert import JointsFormatError, check_joints, motion_to_joints
        from keymask.core.bvh.reader import read_bvh

        self.progress.emit("reading the motion", 0, 1)
        path = Path(job.path)
        spec = HUMANML3D
        if path.suffix.lower() == ".npy":
            try:
                array = np.load(path, allow_pickle=False)
            except (ValueError, EOFError) as error:
                raise MotionFileError(f"{path.name} is not a NumPy .npy file of joint positions ({error}).") from None
            opened = OpenedMotion(check_joints(array, path.name).astype(np.float32), spec.fps)
        elif path.suffix.lower() == ".bvh":
            motion = read_bvh(path)
            try:
                joints = motion_to_joints(motion, fps=spec.fps).astype(np.float32)
            except JointsFormatError as error:  # no rig the importer knows: say which file
                raise MotionFileError(f"Cannot open {path.name}: {error}") from None
            opened = OpenedMotion(joints, motion.fps, *self._rig_of(path))
        else:
            raise MotionFileError(f"{path.name} is not a motion file: open a .bvh, or a .npy of joint positions "
                                  "(frames, 22, 3) in metres at 20 fps.")
        if len(opened.joints) > spec.max_frames:
            raise MotionFileError(f"{path.name} lasts {len(opened.joints) / spec.fps:.1f} s; the studio edits motions "
                                  f"of up to {spec.max_frames / spec.fps:.1f} s (the model's window): cut it first.")
        if len(opened.joints) < spec.frames_per_token + 1:
            raise MotionFileError(f"{path.name} has {len(opened.joints)} frames at {spec.fps} fps; a motion to edit "
                                  f"needs at least {spec.frames_per_token + 1}.")
        return opened

    @staticmethod
    def _rig_of(path: Path) -> tuple[str, str]:
        """(the file as a rig to export onto, or "", and a note when it cannot be one)."""
        from keymask.core.mocap.rig_export import RigExportError, read_rig

        try:
            read_rig(path)
        except RigExportError as error:
            return "", f"Its skeleton cannot take the motion back on export ({error}); BVH exports use ours."
        return str(path.resolve()), ""

    def _export(self, job: ExportJob) -> list[Path]:
        from keymask.core.fileio import write_npy
        from keymask.core.generation.export import export_motion

        self.progress.emit(f"writing {job.kind.upper()}", 0, 1)
        path = Path(job.path)
        if job.kind == "npy":
            write_npy(path, np.asarray(job.joints, dtype=np.float32))
            return [path]
        if job.kind == "gif":
            from keymask.core.preview import render_animation, save_gif

            save_gif(render_animation([(job.title, job.joints)], fps=HUMANML3D.fps, panel=GIF_PANEL), path,
                     fps=HUMANML3D.fps)
            return [path]
        joints = resample_positions(job.joints, HUMANML3D.fps, job.fps)
        rig = None
        if job.rig:
            from keymask.core.mocap.rig_export import read_rig

            rig = read_rig(job.rig)
        written, _ = export_motion(joints, path, fps=job.fps, units=job.units, rotation_order=job.rotation_order,
                                   rig=rig)
        return written


class WorkerThread(QObject):
    """A Worker in its own QThread. submit(job) queues the job; cancel() asks the running job to stop."""

    _submit = pyqtSignal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.thread = QThread(self)  # owned here, so it never outlives the object that stops it
        self.thread.setObjectName("keymask-studio-worker")
        self.worker = Worker()
        self.worker.moveToThread(self.thread)
        self._submit.connect(self.worker.run)
        self.thread.start()

    def submit(self, job) -> None:
        self.worker.cancel_event.clear()
        self._submit.emit(job)

    def cancel(self) -> None:
        self.worker.cancel_event.set()

    def stop(self) -> None:
        """Cancel what runs and end the thread (waits for the job to reach a cancel point)."""
        self.cancel()
        if self.thread.isRunning():
            self.thread.quit()
            self.thread.wait()
