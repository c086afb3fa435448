"""The studio window: the widgets, the project they edit, the undo stack and the workers, wired together.

Every edit goes through a command on `self.stack` (commands.py), which changes `self.project` and
says which part changed; `project_view.show(part)` then puts that part into the widgets (quietly, so
that the widgets' own signals do not come back as edits: project_view.py). The window's parts live
beside it: the side panel's groups (panels.py), the menus, keys and file dialogs (menus.py), the
foreground jobs and what their results do (jobs.py), the local re-solves after key edits
(resolves.py) and the recovery file of unsaved edits (recovery.py).
"""

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
from PyQt6.QtGui import QUndoStack
from PyQt6.QtWidgets import QLabel, QMainWindow, QMessageBox, QSplitter

from keymask.conditioning.lifting.lift import lift_pose
from keymask.conditioning.paths import check_path
from keymask.conditioning.pose_files import read_pose_file
from keymask.conditioning.poses import KeyPose3D, Pose2D
from keymask.core.spec import HUMANML3D
from keymask.studio import commands
from keymask.studio.jobs import ForegroundJobs
from keymask.studio.menus import (
    build_keys,
    build_menus,
    export_dialog,
    imagine_dialog,
    load_pose_dialog,
    photo_dialog,
    save_as_dialog,
)
from keymask.studio.panels import ExportGroup, KeyPoseGroup, MotionArea, MotionGroup, SidePanel
from keymask.studio.pose_canvas import default_pose, mirrored
from keymask.studio.posing import figure_at, key_at, pose_command, posed_key_pose
from keymask.studio.project import KeyPose, Project, load_project, save_project
from keymask.studio.project_view import ProjectView
from keymask.studio.recovery import CrashRecovery
from keymask.studio.resolves import LocalResolves
from keymask.studio.root_path import timed_path
from keymask.studio.settings import (
    SettingsDialog,
    availability,
    load_locations,
    load_view_settings,
    save_locations,
    save_view_settings,
)
from keymask.studio.worker import WorkerThread, readable

FPS = HUMANML3D.fps
STATUS_MS = 8000  # how long a note in the status line stays
RECOVER_CHOICES = ("ask", "yes", "no")
FOCUS_COLOUR = "#3d9df3"
# A visible focus ring on the controls (the timeline draws its own, the same colour). A tool button keeps
# its padding: the row it sits in was laid out for it, and wider padding would cut its text to "...".
FOCUS_STYLE = f"""
QPushButton:focus, QToolButton:focus, QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus,
QPlainTextEdit:focus, QLineEdit:focus {{ border: 2px solid {FOCUS_COLOUR}; border-radius: 3px; }}
QPushButton:focus {{ padding: 2px 8px; }}
QCheckBox:focus {{ border: 2px solid {FOCUS_COLOUR}; border-radius: 3px; padding: 1px; }}
"""


def reported(method):
    """A slot whose errors are shown in the window as one sentence instead of ending the program."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as error:
            self.show_error(readable(error))
    return wrapper


class MainWindow(QMainWindow):
    def __init__(self, project_path: str | Path | None = None, *, recover: str = "ask"):
        super().__init__()
        self.setObjectName("KeyMaskStudio")
        if recover not in RECOVER_CHOICES:
            raise ValueError(f"recover is one of {', '.join(RECOVER_CHOICES)}, not {recover!r}.")
        self.project = Project()
        self.path: Path | None = None
        self.selected_key: int | None = None
        self.frame = 0
        self.confirm_close = True  # ask to save unsaved edits on close (tests turn it off)
        self.locations = load_locations()
        self.view_settings = load_view_settings()
        self.stack = QUndoStack(self)
        self.jobs = WorkerThread(self)
        self.jobs.worker.set_model(self.locations.model_folder(), self.locations.clip_file())
        self.resolver = WorkerThread(self)  # local re-solves after key edits: never queued behind a generation
        self.message_box: QMessageBox | None = None

        self._build_widgets()
        self.project_view = ProjectView(self)
        self.foreground_jobs = ForegroundJobs(self, self.jobs)
        self.resolves = LocalResolves(self, self.resolver)
        self.recovery = CrashRecovery(self, ask_when_shown=recover == "ask")
        build_menus(self)
        self.key_actions = build_keys(self)
        self._connect()
        self.setStyleSheet(FOCUS_STYLE)
        self.statusBar()  # there from the start: the first message does not shrink the window's contents
        self.credit_label = QLabel()  # the sources of the clips the last generated motion was made from
        self.statusBar().addPermanentWidget(self.credit_label)
        self.resize(1400, 860)
        self.project_view.show_everything()
        if project_path is not None:
            self.open_project(project_path)
        if recover == "yes":
            self.recovery.offer("yes")
        self.prompt_edit.setFocus()  # typing starts with the prompt, not on a button

    @property
    def recovery_file(self) -> Path:
        return self.recovery.file

    @property
    def recovery_dialog(self) -> QMessageBox | None:
        """The question whether to restore unsaved edits, while it is open."""
        return self.recovery.dialog

    # ---- layout --------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        area = self.motion_area = MotionArea()
        self.viewport, self.timeline, self.playback = area.viewport, area.timeline, area.playback
        self.layout_box, self.sample_box = area.layout_box, area.sample_box
        motion = self.motion_group = MotionGroup()
        pose = self.pose_group = KeyPoseGroup()
        export = self.export_group = ExportGroup()
        self.side_panel = SidePanel(motion, pose, export)
        # The groups' widgets by name: the window wires them, and tests and bench/ drive them.
        self.prompt_edit, self.seconds_spin = motion.prompt_edit, motion.seconds_spin
        self.estimate_box, self.seed_spin = motion.estimate_box, motion.seed_spin
        self.new_seed_button, self.samples_spin = motion.new_seed_button, motion.samples_spin
        self.guidance_spin, self.steps_spin = motion.guidance_spin, motion.steps_spin
        self.exemplar_spin = motion.exemplar_spin
        self.advanced_button, self.advanced = motion.advanced_button, motion.advanced
        self.generate_button, self.cancel_button = motion.generate_button, motion.cancel_button
        self.progress_bar, self.message_label = motion.progress_bar, motion.message_label
        self.error_label = motion.error_label
        self.key_label, self.canvas, self.lifted_view = pose.key_label, pose.canvas, pose.lifted_view
        self.add_key_button, self.delete_key_button = pose.add_key_button, pose.delete_key_button
        self.mirror_button, self.reset_button = pose.mirror_button, pose.reset_button
        self.load_pose_button, self.photo_button = pose.load_pose_button, pose.photo_button
        self.imagine_button, self.constrain_box = pose.imagine_button, pose.constrain_box
        self.fps_spin, self.units_box = export.fps_spin, export.units_box
        self.rig_box, self.export_buttons = export.rig_box, export.export_buttons

        splitter = QSplitter()
        splitter.addWidget(area)
        splitter.addWidget(self.side_panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)  # a larger window widens the 3D view; the side panel keeps its width
        splitter.setCollapsible(0, False)
        splitter.setCollapsible(1, False)
        splitter.setSizes([1, 0])  # the side panel at its narrowest
        self.setCentralWidget(splitter)

    def step_frames(self, step: int) -> None:
        """Move the playhead `step` frames, within the motion."""
        self.set_frame(max(0, min(self.frame + step, self.timeline.length - 1)))

    def jump_to_key(self, direction: int) -> None:
        """To the next key after the playhead (direction 1) or the previous one before it (-1), and select it."""
        frames = [k.frame(FPS) for k in self.project.keys]
        ahead = [(f, i) for i, f in enumerate(frames) if (f - self.frame) * direction > 0]
        if ahead:
            frame, index = min(ahead) if direction > 0 else max(ahead)
            self.set_frame(min(frame, self.timeline.length - 1))
            self.select_key(index)

    def _connect(self) -> None:
        self.stack.indexChanged.connect(self._stack_changed)
        self.stack.cleanChanged.connect(self.show_title)
        self.prompt_edit.textChanged.connect(lambda: self._set("prompt", self.prompt_edit.toPlainText()))
        self.seconds_spin.valueChanged.connect(self._length_edited)
        self.estimate_box.toggled.connect(self._length_edited)
        self.seed_spin.valueChanged.connect(lambda v: self._set("seed", v))
        self.samples_spin.valueChanged.connect(lambda v: self._set("samples", v))
        self.guidance_spin.valueChanged.connect(lambda v: self._set("guidance", v))
        self.steps_spin.valueChanged.connect(lambda v: self._set("steps", v))
        self.exemplar_spin.valueChanged.connect(lambda v: self._set("exemplar_share", v))
        self.generate_button.clicked.connect(self.foreground_jobs.generate)
        self.cancel_button.clicked.connect(self.jobs.cancel)

        self.timeline.frame_changed.connect(self.set_frame)
        self.playback.frame_changed.connect(self.set_frame)
        self.timeline.key_selected.connect(lambda i: self.select_key(None if i < 0 else i))
        self.timeline.key_add_requested.connect(self.add_key)
        self.timeline.key_moved.connect(lambda i, frame: self.push(commands.MoveKey(self.project, i, frame / FPS)))
        self.timeline.key_delete_requested.connect(self.delete_key)
        self.timeline.key_timing_requested.connect(
            lambda i, hold, ease: self.push(commands.SetKeyTiming(self.project, i, hold / FPS, ease / FPS)))
        self.timeline.pose_key_requested.connect(self.key_current_pose)
        self.timeline.keep_spans_changed.connect(
            lambda spans: self.push(commands.SetKeepSpans(self.project, [(a / FPS, b / FPS) for a, b in spans])))
        self.layout_box.currentIndexChanged.connect(
            lambda i: self.viewport.set_layout("side" if i == 0 else "overlay"))
        self.sample_box.currentIndexChanged.connect(self._sample_chosen)
        self.viewport.sample_clicked.connect(self._sample_chosen)
        self.viewport.set_pose_source(lambda: figure_at(self.project, self.frame, FPS))
        self.viewport.pose_edited.connect(self._posed_in_3d)
        self.viewport.pins_changed.connect(lambda pins: self.push(commands.SetPins(self.project, pins)))
        self.viewport.path_drawn.connect(self._path_drawn)
        self.viewport.onion_action.setChecked(self.view_settings.onion_skins)
        self.viewport.onion_action.toggled.connect(self._onion_skins_toggled)

        self.canvas.joint_moved.connect(self._joint_moved)
        self.canvas.image_dropped.connect(self.foreground_jobs.pose_from_photo)
        self.canvas.pose_file_dropped.connect(self.load_pose)
        self.add_key_button.clicked.connect(lambda: self.add_key(self.frame))
        self.delete_key_button.clicked.connect(lambda: self.delete_key(self.selected_key))
        self.mirror_button.clicked.connect(lambda: self._edit_pose(mirrored(self.canvas.pose()), "Mirror pose"))
        self.reset_button.clicked.connect(
            lambda: self._edit_pose(default_pose(self.pose_group.canvas_size()), "Reset pose"))
        self.load_pose_button.clicked.connect(lambda: load_pose_dialog(self))
        self.photo_button.clicked.connect(lambda: photo_dialog(self))
        self.imagine_button.clicked.connect(lambda: imagine_dialog(self))
        self.constrain_box.currentTextChanged.connect(self._constrain_chosen)

        self.fps_spin.valueChanged.connect(lambda v: self._set("export", replace(self.project.export, fps=v)))
        self.units_box.currentTextChanged.connect(
            lambda units: self._set("export", replace(self.project.export, units=units)))
        self.rig_box.toggled.connect(lambda on: self._set("export", replace(self.project.export, use_rig=on)))
        for kind, button in self.export_buttons.items():
            button.clicked.connect(lambda _=False, k=kind: export_dialog(self, k))

    # ---- edits ---------------------------------------------------------------------------------

    def push(self, command: commands.ProjectCommand) -> None:
        """Every edit comes here: pushing runs the command, records it for undo, and shows what changed."""
        command.notify = self.project_view.show
        self.error_label.hide()
        self.stack.push(command)

    def _stack_changed(self, index: int) -> None:
        """An edit done, undone or redone: the recovery file follows, and a key edit is re-solved. (The
        window's own slot: it is not called while the window, the stack among its children, is deleted.)"""
        self.recovery.autosave()
        self.resolves.stack_index_changed(index)

    def _onion_skins_toggled(self, on: bool) -> None:
        self.view_settings = replace(self.view_settings, onion_skins=on)
        save_view_settings(self.view_settings)

    def _set(self, name: str, value) -> None:
        if not self.project_view.quiet and getattr(self.project, name) != value:
            self.push(commands.SetField(self.project, name, value))

    def _length_edited(self) -> None:
        self.seconds_spin.setEnabled(not self.estimate_box.isChecked())
        self._set("seconds", self.motion_group.length())

    def _sample_chosen(self, index: int) -> None:
        if not self.project_view.quiet and index >= 0 and index != self.project.chosen_sample:
            self.push(commands.ChooseSample(self.project, index))

    def _constrain_chosen(self, constrain: str) -> None:
        if not self.project_view.quiet and self.selected_key is not None:
            self.push(commands.SetConstraint(self.project, self.selected_key, constrain))

    @reported
    def add_key(self, frame: int, pose2d: Pose2D | None = None) -> None:
        """A key pose at `frame`: the given pose, else a copy of the drawing on the canvas (Shift+I or
        Shift+K, and "Add as key")."""
        pose2d = pose2d or self.canvas.pose()
        key = KeyPose(time=frame / FPS, pose2d=pose2d, pose3d=lift_pose(pose2d),
                      name=f"key {len(self.project.keys) + 1}")
        self.push(commands.AddKey(self.project, key))
        self.select_key(len(self.project.keys) - 1)

    def key_current_pose(self, frame: int) -> None:
        """I or K (as in Blender): a 3D key at `frame` of the pose the 3D figure shows there, the chosen
        motion's joints as delivered, standing where the motion stands and facing its way. A frame that
        has a key already gets no second one: that key is selected. Without a motion the 3D view shows
        no figure, and the 2D drawing is keyed instead, as the status line says."""
        index = key_at(self.project, int(frame), FPS)
        if index is not None:
            self.select_key(index)
            self.statusBar().showMessage(f"Frame {int(frame)} has key pose {index + 1} already: it is selected "
                                         "(pose it in the 3D view to change it).", STATUS_MS)
            return
        motion = self.project.motion
        if motion is None:
            keys = len(self.project.keys)
            self.add_key(frame)
            if len(self.project.keys) > keys:
                self.statusBar().showMessage("No motion yet, so the 2D drawing was keyed (after Generate, I and K "
                                             "key the 3D figure's pose).", STATUS_MS)
            return
        figure = motion[min(int(frame), len(motion) - 1)]  # (22, 3) as the 3D view draws it
        pose3d = replace(posed_key_pose(figure),
                         source={"motion": f"sample {self.project.chosen_sample + 1}", "frame": int(frame)})
        key = KeyPose(time=frame / FPS, pose3d=pose3d, name=f"key {len(self.project.keys) + 1}")
        self.push(commands.AddKey(self.project, key))
        self.select_key(len(self.project.keys) - 1)

    def delete_key(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.project.keys):
            self.push(commands.DeleteKey(self.project, index))

    def select_key(self, index: int | None) -> None:
        """Show key `index` on the canvas (None: no key; the canvas keeps its pose to copy)."""
        self.selected_key = index if index is not None and 0 <= index < len(self.project.keys) else None
        self.project_view.show_key()

    @reported
    def _joint_moved(self, joint: int, old_xy: tuple, new_xy: tuple) -> None:
        if self.selected_key is None:
            return  # no key: the canvas is a scratch pose that "Add as key" copies
        try:
            self._push_pose_edit(commands.MoveJoint(self.project, self.selected_key, joint, new_xy,
                                                    base=self.canvas.pose()))
        finally:
            self.project_view.show_key()  # the canvas shows the key as it is (also when the move was refused)

    @reported
    def _edit_pose(self, pose2d: Pose2D, text: str) -> None:
        if self.selected_key is None:
            self.canvas.set_pose(pose2d)
        else:
            self._push_pose_edit(commands.EditPose(self.project, self.selected_key, pose2d, text))

    def _push_pose_edit(self, command: commands.EditPose) -> None:
        """A 2D pose for a key. A 3D key (drawn on the canvas from the front) becomes a 2D key by it,
        which its undo text and the status line say."""
        made_2d = self.project.keys[command.index].pose2d is None
        if made_2d:
            command.setText(f"{command.text()} (3D key made 2D)")
        self.push(command)
        if made_2d:
            self.statusBar().showMessage(f"Key pose {command.index + 1} is a 2D key now: its 3D pose is lifted "
                                         "from the drawing (Ctrl+Z gives the 3D pose back).", STATUS_MS)

    @reported
    def load_pose(self, path: str) -> None:
        """A pose file: a 2D pose is lifted; a 3D key pose is taken as it is. No key selected: adds one."""
        pose = read_pose_file(path)
        if self.selected_key is None:
            if isinstance(pose, KeyPose3D):
                key = KeyPose(time=self.frame / FPS, pose3d=pose, name=Path(path).stem)
                self.push(commands.AddKey(self.project, key))
                self.select_key(len(self.project.keys) - 1)
            else:
                self.add_key(self.frame, pose)
        elif isinstance(pose, KeyPose3D):
            self.push(commands.SetPose3D(self.project, self.selected_key, pose))
        else:
            self._push_pose_edit(commands.EditPose(self.project, self.selected_key, pose, "Load pose"))

    @reported
    def _posed_in_3d(self, joints: np.ndarray, text: str, holds_place: bool, run: str) -> None:
        """A pose finished in the 3D view becomes the key at the playhead: added, or its pose replaced."""
        command, index = pose_command(self.project, self.frame, FPS, joints, text, holds_place, run)
        self.push(command)
        self.select_key(index)

    @reported
    def _path_drawn(self, points: np.ndarray) -> None:
        """A stroke on the floor becomes the root path, timed from the playhead to the end of the timeline."""
        path = timed_path(points, self.frame, self.timeline.length, FPS)
        check_path(path, self.timeline.length, FPS)
        self.push(commands.SetRootPath(self.project, path))
        metres = float(np.linalg.norm(np.diff(path.points, axis=0), axis=1).sum())
        first, last = (int(round(t * FPS)) for t in (path.times[0], path.times[-1]))
        self.message_label.setText(f"Root path drawn: {metres:.1f} m, frames {first} to {last}. Generate follows it.")

    def clear_root_path(self) -> None:
        if self.project.root_path is None:
            self.statusBar().showMessage("There is no root path to clear.", 5000)
        else:
            self.push(commands.SetRootPath(self.project, None))

    def apply_found_pose(self, pose: Pose2D, text: str) -> None:
        if self.selected_key is None:
            self.add_key(self.frame, pose)
        else:
            self._edit_pose(pose, text)

    # ---- messages ------------------------------------------------------------------------------

    def tell(self, title: str, message: str) -> None:
        """A window-modal message box (kept in `message_box` until it is closed)."""
        box = self.message_box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=self)
        box.finished.connect(lambda _: setattr(self, "message_box", None))
        box.open()

    def show_credit(self, sources: tuple[str, ...], credit: str) -> None:
        """Name the sources of the training clips the last generated motion was made from in the status bar,
        their licences and citations (`credit`, as the command line prints it) in its tooltip; () clears it."""
        self.credit_label.setText(f"Made from clips of {'; '.join(sources)} (hover: licence)" if sources else "")
        self.credit_label.setToolTip(credit[:1].upper() + credit[1:])

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.statusBar().showMessage(message, 10_000)

    # ---- the playhead, the title -----------------------------------------------------------------

    def set_frame(self, frame: int) -> None:
        """Show `frame` everywhere (the widget that sent it already shows it: playback keeps its clock)."""
        self.frame = int(frame)
        self.viewport.set_frame(self.frame)
        self.timeline.set_frame(self.frame)
        if self.playback.frame != self.frame:
            self.playback.set_frame(self.frame)

    def show_title(self) -> None:
        name = self.path.name if self.path else "untitled"
        self.setWindowTitle(f"{name}[*] — KeyMask Studio")
        self.setWindowModified(not self.stack.isClean())

    def show_imagine_state(self) -> None:
        usable, why = availability(self.locations)["sd_dir"]
        self.imagine_button.setEnabled(usable and not self.foreground_jobs.busy)
        self.imagine_button.setToolTip("Text -> Stable Diffusion image -> pose" if usable else why)

    # ---- files ---------------------------------------------------------------------------------

    def replace_project(self, project: Project, path: Path | None) -> None:
        self.foreground_jobs.forget()
        self.resolves.clear()
        self.project, self.path = project, path
        self.selected_key = None
        with self.recovery.paused():
            self.stack.clear()
        self.project_view.show_everything()

    def new_project(self) -> None:
        if self.may_discard():
            self.recovery.forget()
            self.replace_project(Project(), None)

    @reported
    def open_project(self, path: str | Path) -> None:
        """Open a project file (the edits of the open project are dropped: ask `may_discard` first)."""
        project = load_project(path)
        self.replace_project(project, Path(path))
        self.message_label.setText(f"Opened {path}.")

    @reported
    def save_to(self, path: str | Path) -> None:
        path = Path(path)
        save_project(path, self.project)
        self.recovery.forget()
        self.path = path
        self.stack.setClean()
        self.show_title()
        self.message_label.setText(f"Saved {path}.")

    def save(self) -> bool:
        if self.path is None:
            return save_as_dialog(self)
        self.save_to(self.path)
        return self.stack.isClean()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.locations, self)
        if dialog.exec():
            self.locations = dialog.locations()
            save_locations(self.locations)
            self.jobs.worker.set_model(self.locations.model_folder(), self.locations.clip_file())
            self.show_imagine_state()

    # ---- closing -------------------------------------------------------------------------------

    def may_discard(self) -> bool:
        """True when the open project may be replaced: saved, or the user says so."""
        if self.stack.isClean() or not self.confirm_close:
            return True
        answer = QMessageBox.question(
            self, "Unsaved edits", "Save the edits to this project first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event) -> None:
        if not self.may_discard():
            event.ignore()
            return
        self.playback.pause()
        self.jobs.stop()
        self.resolver.stop()
        self.recovery.forget()
        event.accept()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.recovery.window_shown()
