"""The window's foreground jobs: generation, a key pose from a photo or imagined, opening a motion and
export, one at a time in the worker thread (worker.py), and what each result does to the project.

`ForegroundJobs` submits the window's jobs to its worker thread and answers the worker's signals.
While a job runs, Cancel is enabled and Generate, the photo and imagine buttons and the export
buttons are not; the progress bar shows the worker's reports. A finished job's result becomes an
undo command (motions generated or opened) or a key pose (found in a photo or imagined), and the
message line says what happened. A job started for a project that has since been replaced is
ignored when it ends. `generation_job` is the job Generate starts for a project.
"""

from dataclasses import replace
from pathlib import Path

from PyQt6.QtCore import QObject, Qt
from PyQt6.QtWidgets import QApplication

from keymask.conditioning.keyed_generation import KeyFrame
from keymask.core.generation.pipeline import SamplingSettings
from keymask.core.spec import HUMANML3D
from keymask.studio import commands
from keymask.studio.project import Project
from keymask.studio.worker import (
    ExportJob,
    GenerateJob,
    GenerateResult,
    ImagineJob,
    OpenedMotion,
    OpenMotionJob,
    PhotoJob,
    WorkerThread,
)

FPS = HUMANML3D.fps


def generation_job(project: Project) -> GenerateJob:
    """The job Generate starts: the prompt through the key poses, the pelvis on the root path; with kept
    spans and a motion, that motion regenerated outside them."""
    p = project
    keys = tuple(KeyFrame(k.pose3d, k.frame(FPS), k.constrain, k.hold_frames(FPS), k.ease_frames(FPS),
                          k.ease_frames(FPS)) for k in p.keys)
    job = GenerateJob(prompt=p.prompt, frames=None if p.seconds is None else int(round(p.seconds * FPS)),
                      samples=p.samples, seed=p.seed,
                      settings=SamplingSettings(steps=p.steps, guidance_scale=p.guidance,
                                                exemplar_share=p.exemplar_share), keys=keys, path=p.root_path)
    if p.keep_spans and p.motion is not None:
        spans = tuple((int(round(a * FPS)), int(round(b * FPS))) for a, b in p.keep_spans)
        job = replace(job, frames=None, source=p.motion, keep=spans)
    return job


class ForegroundJobs(QObject):
    """One job at a time for `window` (studio/main_window.py), whose project, weight locations, `push`,
    `apply_found_pose`, `show_error`, `tell` and side panel widgets it uses."""

    def __init__(self, window, thread: WorkerThread):
        super().__init__(window)
        self.window, self.thread = window, thread
        self.current = None  # the job running for this project
        self._focus_back = None  # the button that had the keyboard focus when a job turned it off
        worker = thread.worker
        worker.progress.connect(window.motion_group.show_progress)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)

    def generate(self) -> None:
        if not self.window.project.prompt.strip():
            self.window.show_error("Type what the person does first.")
            return
        self.start(generation_job(self.window.project))

    def pose_from_photo(self, path: str) -> None:
        self.start(PhotoJob(str(path)))

    def imagine(self, prompt: str) -> None:
        locations = self.window.locations
        self.start(ImagineJob(prompt, sd_dir=locations.sd_dir, openpose_dir=locations.openpose_dir or None,
                              seed=self.window.project.seed))

    def export_to(self, path: str | Path, kind: str = "bvh") -> None:
        """Write the chosen motion (in the worker); the message line says what was written."""
        project = self.window.project
        if project.motion is None:
            self.window.show_error("Generate a motion first: there is nothing to export yet.")
            return
        export = project.export
        self.start(ExportJob(project.motion, str(path), kind, fps=export.fps, units=export.units,
                             rotation_order=export.rotation_order, title=project.prompt,
                             rig=export.rig if export.use_rig else None))

    def open_motion(self, path: str | Path) -> None:
        """A BVH (any rig the importer maps) or a joints .npy becomes the project's motion (in the worker);
        a file that cannot be one is said in a message box, and the project stays as it was."""
        self.start(OpenMotionJob(str(path)))

    @property
    def busy(self) -> bool:
        return self.window.cancel_button.isEnabled()

    def start(self, job) -> None:
        if self.busy:
            self.window.show_error("Wait for the running job to finish, or cancel it.")
            return
        self.window.error_label.hide()
        self._set_busy(True)
        self.window.motion_group.show_working()
        self.current = job
        self.thread.submit(job)

    def forget(self) -> None:
        """The project is being replaced: cancel what runs, and ignore its result."""
        if self.busy:
            self.thread.cancel()
        self.current = None

    def _set_busy(self, busy: bool) -> None:
        """Cancel on, the buttons that start jobs off (or back). The keyboard focus on a button that
        goes off waits on Cancel (Space or Enter there cancels) and comes back to it afterwards: Qt
        would hand it on to the next control in the chain (the 3D view's Pose button, the 2D canvas),
        where the next key means something else."""
        w = self.window
        starters = (w.generate_button, w.photo_button, w.imagine_button, *w.export_buttons.values())
        if busy:
            w.cancel_button.setEnabled(True)
            if QApplication.focusWidget() in starters:
                self._focus_back = QApplication.focusWidget()
                w.cancel_button.setFocus(Qt.FocusReason.OtherFocusReason)
            for widget in starters:
                widget.setEnabled(False)
            return
        for widget in starters:
            widget.setEnabled(True)
        back, self._focus_back = self._focus_back, None
        if back is not None and QApplication.focusWidget() is w.cancel_button:
            back.setFocus(Qt.FocusReason.OtherFocusReason)  # not when the user has moved the focus meanwhile
        w.cancel_button.setEnabled(False)
        w.motion_group.clear_progress()
        w.show_imagine_state()

    def _finished(self, job, result) -> None:
        self._set_busy(False)
        if job is not self.current:
            return  # started for a project that has since been replaced
        w = self.window
        if isinstance(job, GenerateJob):
            text = "Regenerate outside kept spans" if result.edited else "Generate"
            w.push(commands.SetMotions(w.project, result.motions, text))
            w.message_label.setText(self._generated_message(job, result))
            w.show_credit(result.credited_sources, result.credit)
        elif isinstance(job, (PhotoJob, ImagineJob)):
            w.apply_found_pose(result.pose, "Pose from photo" if isinstance(job, PhotoJob) else "Imagined pose")
            w.message_label.setText(result.note or "Pose found.")
        elif isinstance(job, ExportJob):
            w.message_label.setText("Wrote " + ", ".join(str(p) for p in result))
        elif isinstance(job, OpenMotionJob):
            self._opened(Path(job.path), result)
            w.show_credit((), "")

    def _opened(self, path: Path, opened: OpenedMotion) -> None:
        w = self.window
        export = w.project.export
        if opened.rig:
            fps = int(round(opened.fps)) if 1 <= round(opened.fps) <= w.fps_spin.maximum() else export.fps
            export = replace(export, rig=opened.rig, use_rig=True, fps=fps)
        else:
            export = replace(export, rig="", use_rig=False)
        w.push(commands.OpenMotion(w.project, opened.joints, export, path.name, FPS))
        frames = len(opened.joints)
        text = f"Opened {path.name}: {frames} frames ({frames / FPS:.1f} s at {FPS} fps)."
        if opened.rig:
            text += f" BVH exports go onto its rig at {export.fps} fps (untick \"{w.rig_box.text()}\" for ours)."
        w.message_label.setText(" ".join(filter(None, (text, opened.note))))

    def _generated_message(self, job: GenerateJob, result: GenerateResult) -> str:
        project = self.window.project
        seconds = len(result.motions[0]) / FPS
        text = f"{len(result.motions)} motion(s) of {seconds:.1f} s, seed {result.seed}"
        kept = [k for k in project.keys
                if any(round(a * FPS) <= k.frame(FPS) < round(b * FPS) for a, b in project.keep_spans)]
        if result.edited and kept:
            text += f"; {len(kept)} key pose(s) in kept spans stay as the kept motion has them"
        if result.edited and job.path is not None:
            text += "; the root path is not followed when regenerating outside kept spans"
        elif job.path is not None:
            text += "; the pelvis follows the root path"
        return text + "." + (f" {result.warning}" if result.warning else "")

    def _failed(self, job, message: str) -> None:
        self._set_busy(False)
        if job is self.current:
            self.window.message_label.setText("")
            if isinstance(job, OpenMotionJob):
                self.window.tell("Cannot open the motion", message)
            else:
                self.window.show_error(message)

    def _cancelled(self, job) -> None:
        self._set_busy(False)
        self.window.message_label.setText("Cancelled.")
