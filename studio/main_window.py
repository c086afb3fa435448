"""The studio window: the widgets, the project they edit, the undo stack and the worker, put together.

Every edit goes through a command on `self.stack` (commands.py), which changes `self.project` and
says which part changed; `_show(part)` then puts that part into the widgets (with `_quiet` set, so
that the widgets' own signals do not come back as edits). Long jobs go to the worker thread
(worker.py); their results come back as commands too. After every change of the undo stack the
project is written to a recovery file, which the next start offers to restore.

Key edits re-solve locally: adding a key, moving it on the timeline or changing its pose marks the
stretch it touches stale on the timeline (conditioning/resolve.py's stale_stretch) and re-solves
only that stretch in a second worker (`resolver`), so it never waits behind a generation; the
result is attached to the key's own undo command (one undo takes back both) and frames outside the
stretch stay exactly as they were. Generate / Regenerate outside kept spans stay the full solve.

Keys (window-wide, as in Blender where it has one; also in the Animation and View menus):
I or K add a key at the playhead, Shift+K keys the motion's own pose there, Space plays/pauses,
Left/Right step a frame, Up/Down jump to the next/previous key, F frames the figure, 1/3/7 (or
the keypad's) look from the front/side/top, Ctrl+Enter generates. A focused text field keeps the
keys it types (Qt's own rule: it takes the shortcut override), and a focused button or list keeps
the keys it uses itself (`_OwnKeys`): Space on a focused button presses that button and does not
also play.
"""

import functools
from contextlib import contextmanager
from datetime import datetime
from dataclasses import replace
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QEvent, QObject, Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence, QUndoStack
from PyQt6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from keymask.conditioning.keyed_generation import KeyFrame
from keymask.conditioning.lifting.lift import lift_pose
from keymask.conditioning.pose_files import read_pose_file
from keymask.conditioning.poses import KeyPose3D, Pose2D
from keymask.conditioning.refine import place_key_pose
from keymask.conditioning.resolve import StretchKey, stale_stretch
from keymask.core.facing import body_heading, canonical_pose
from keymask.core.generation.pipeline import SamplingSettings
from keymask.core.spec import HUMANML3D
from keymask.studio import commands
from keymask.studio.pose_canvas import LiftedPoseView, PoseCanvas, default_pose, mirrored
from keymask.studio.posing import figure_at, pose_command
from keymask.studio.project import (
    SUFFIX,
    KeyPose,
    Project,
    load_project,
    read_recovery,
    recovery_dir,
    recovery_is_newer,
    recovery_path,
    save_project,
    summary,
    write_recovery,
)
from keymask.studio.settings import SettingsDialog, availability, load_locations, save_locations
from keymask.studio.timeline import PlaybackControls, Timeline
from keymask.studio.viewport import MotionViewport
from keymask.studio.worker import (
    ExportJob,
    GenerateJob,
    GenerateResult,
    ImagineJob,
    OpenedMotion,
    OpenMotionJob,
    PhotoJob,
    ResolveJob,
    WorkerThread,
    readable,
)

FPS = HUMANML3D.fps
RECOVER_CHOICES = ("ask", "yes", "no")
DEFAULT_CANVAS = (512, 512)  # pixels of the pose drawn for a new key
MOTION_FILES = "Motions (*.bvh *.npy);;BVH motion (*.bvh);;Joint positions at 20 fps (*.npy)"
EXPORT_KINDS = {"bvh": "BVH motion (*.bvh)", "npy": "Joint positions (*.npy)", "gif": "GIF preview (*.gif)"}
FOCUS_COLOUR = "#3d9df3"
# A visible focus ring on the controls (the timeline draws its own, the same colour).
FOCUS_STYLE = f"""
QPushButton:focus, QToolButton:focus, QComboBox:focus, QSpinBox:focus, QDoubleSpinBox:focus,
QPlainTextEdit:focus, QLineEdit:focus {{ border: 2px solid {FOCUS_COLOUR}; border-radius: 3px; }}
QPushButton:focus, QToolButton:focus {{ padding: 2px 8px; }}
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


class _OwnKeys(QObject):
    """An event filter that lets a focused button or list keep the keys it uses itself, which the
    window's shortcuts would otherwise take first: it accepts their shortcut override."""

    KEYS = ((QAbstractButton, {Qt.Key.Key_Space}), (QComboBox, {Qt.Key.Key_Space, Qt.Key.Key_Up, Qt.Key.Key_Down}))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if any(isinstance(watched, kind) and event.key() in keys for kind, keys in self.KEYS):
                event.accept()
                return True
        return False


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
        self._quiet = False
        self._job = None  # the job running for this project
        self._replacing = False
        self.locations = load_locations()
        self.stack = QUndoStack(self)
        self.jobs = WorkerThread(self)
        self.jobs.worker.set_model(self.locations.model_folder(), self.locations.clip_file())
        self.resolver = WorkerThread(self)  # local re-solves after key edits: never queued behind a generation
        self._resolve_queue: list[tuple[commands.KeyEdit, tuple[int, int], tuple[int, int] | None, int]] = []
        self._resolving: ResolveJob | None = None
        self._motion_epoch = 0  # changes whenever the motions change other than by a re-solve
        self._stack_index = 0

        self._build_widgets()
        self._build_menus()
        self._build_keys()
        self._connect()
        self.setStyleSheet(FOCUS_STYLE)
        self.resize(1400, 860)
        self._show_everything()
        if project_path is not None:
            self.open_project(project_path)
        self.recovery_dialog: QMessageBox | None = None
        self.message_box: QMessageBox | None = None
        self._ask_when_shown = recover == "ask"  # the question waits for the window to be drawn
        if recover == "yes":
            self._offer_recovery("yes")
        self.prompt_edit.setFocus()  # typing starts with the prompt, not on a button

    # ---- layout --------------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.viewport = MotionViewport()
        self.timeline = Timeline()
        self.playback = PlaybackControls()
        self.layout_box = QComboBox()
        self.layout_box.addItems(["Side by side", "Overlaid"])
        self.sample_box = QComboBox()
        bar = QHBoxLayout()
        bar.addWidget(self.playback, 1)
        bar.addWidget(QLabel("Samples:"))
        bar.addWidget(self.layout_box)
        bar.addWidget(QLabel("Use:"))
        bar.addWidget(self.sample_box)
        left = self.motion_area = QWidget()
        column = QVBoxLayout(left)
        column.addWidget(self.viewport, 1)
        column.addLayout(bar)
        column.addWidget(self.timeline)

        panel = QWidget()
        side = QVBoxLayout(panel)
        side.addWidget(self._motion_group())
        self.pose_group = self._pose_group()
        side.addWidget(self.pose_group)
        side.addStretch(1)
        scroll = self.side_scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(panel.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        right = self.side_panel = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(scroll, 1)
        column.addWidget(self._export_group())  # below the scrolling part: always in view

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)  # a larger window widens the 3D view; the side panel keeps its width
        splitter.setCollapsible(0, False)
        splitter.setCollapsible(1, False)
        splitter.setSizes([1, 0])  # the side panel at its narrowest
        self.setCentralWidget(splitter)

    def _motion_group(self) -> QGroupBox:
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("What the person does, e.g. \"a person jumps over a puddle\"")
        self.prompt_edit.setFixedHeight(64)
        self.prompt_edit.setTabChangesFocus(True)  # Tab leaves the prompt; a tab sent to the model means nothing
        self.seconds_spin = QDoubleSpinBox(minimum=0.4, maximum=HUMANML3D.max_frames / FPS, singleStep=0.1,
                                           decimals=1, suffix=" s", value=4.0)
        self.estimate_box = QCheckBox("estimate from text")
        self.seed_spin = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.new_seed_button = QPushButton("New seed")
        self.samples_spin = QSpinBox(minimum=1, maximum=8)
        self.guidance_spin = QDoubleSpinBox(minimum=0.0, maximum=20.0, singleStep=0.5, decimals=1)
        self.steps_spin = QSpinBox(minimum=1, maximum=50)
        self.advanced_button = QToolButton(text="Advanced", checkable=True)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced = QWidget()
        fold = QFormLayout(self.advanced)
        fold.setContentsMargins(16, 0, 0, 0)
        fold.addRow("Guidance", self.guidance_spin)
        fold.addRow("Steps", self.steps_spin)
        self.advanced.hide()

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress_bar = QProgressBar(textVisible=True)
        self.progress_bar.setFormat("")
        self.message_label = QLabel(wordWrap=True)
        self.error_label = QLabel(wordWrap=True)
        self.error_label.setStyleSheet("color: #b71c1c")
        self.error_label.hide()

        form = QFormLayout()
        form.addRow(self.prompt_edit)
        form.addRow("Length", _row(self.seconds_spin, self.estimate_box))
        form.addRow("Seed", _row(self.seed_spin, self.new_seed_button))
        form.addRow("Samples", self.samples_spin)
        form.addRow(self.advanced_button)
        form.addRow(self.advanced)
        form.addRow(_row(self.generate_button, self.cancel_button))
        form.addRow(self.progress_bar)
        form.addRow(self.message_label)
        form.addRow(self.error_label)
        group = QGroupBox("Motion")
        group.setLayout(form)
        return group

    def _pose_group(self) -> QGroupBox:
        self.key_label = QLabel()
        self.canvas = PoseCanvas()
        self.canvas.set_pose(default_pose(DEFAULT_CANVAS))
        self.lifted_view = LiftedPoseView()
        self.add_key_button = QPushButton("Add key at playhead")
        self.delete_key_button = QPushButton("Delete key")
        self.mirror_button = QPushButton("Mirror")
        self.reset_button = QPushButton("Reset")
        self.load_pose_button = QPushButton("Load pose…")
        self.photo_button = QPushButton("From photo…")
        self.imagine_button = QPushButton("Imagine…")
        self.constrain_box = QComboBox()
        self.constrain_box.addItems(["body", "root"])
        self.constrain_box.setToolTip("body: the pose only; root: also the key's position and facing")
        views = QHBoxLayout()
        views.addWidget(self.canvas, 1)
        views.addWidget(self.lifted_view, 1)
        column = QVBoxLayout()
        column.addWidget(self.key_label)
        column.addLayout(views)
        column.addWidget(_row(self.add_key_button, self.delete_key_button, self.mirror_button, self.reset_button))
        column.addWidget(_row(self.load_pose_button, self.photo_button, self.imagine_button,
                              QLabel("Holds:"), self.constrain_box))
        group = QGroupBox("Key pose")
        group.setLayout(column)
        return group

    def _export_group(self) -> QGroupBox:
        self.fps_spin = QSpinBox(minimum=1, maximum=240, suffix=" fps")
        self.units_box = QComboBox()
        self.units_box.addItems(["m", "cm"])
        self.export_buttons = {kind: QPushButton(label) for kind, label in
                               (("bvh", "BVH…"), ("npy", "Joints NPY…"), ("gif", "GIF preview…"))}
        self.rig_box = QCheckBox("onto the opened rig")
        self.rig_box.setToolTip("Write the BVH on the skeleton of the opened BVH file (its joints, units and axes)")
        self.rig_box.hide()
        form = QFormLayout()
        form.addRow("BVH", _row(self.fps_spin, self.units_box, self.rig_box))
        form.addRow(_row(*self.export_buttons.values()))
        group = QGroupBox("Export")
        group.setLayout(form)
        return group

    def _build_menus(self) -> None:
        files = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("&New", QKeySequence.StandardKey.New, self.new_project),
                                     ("&Open…", QKeySequence.StandardKey.Open, self._open_dialog),
                                     ("Open &motion…", QKeySequence("Ctrl+Shift+O"), self._open_motion_dialog),
                                     ("&Save", QKeySequence.StandardKey.Save, self.save),
                                     ("Save &as…", QKeySequence.StandardKey.SaveAs, self._save_as_dialog),
                                     ("&Weight locations…", None, self.edit_settings),
                                     ("&Quit", QKeySequence.StandardKey.Quit, self.close)):
            action = files.addAction(text)
            action.triggered.connect(lambda _=False, s=slot: s())
            if shortcut is not None:
                action.setShortcut(shortcut)
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addActions([self.undo_action, self.redo_action])
        generate = QAction("Generate", self)
        generate.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        generate.triggered.connect(lambda: self.generate_button.isEnabled() and self.generate())
        self.addAction(generate)

    def _build_keys(self) -> None:
        """The window-wide keys, as menu actions (which shows them), and the filter that lets a focused
        button or list keep its own keys."""
        self.key_actions: dict[str, QAction] = {}
        menus = {"animation": self.menuBar().addMenu("&Animation"), "view": self.menuBar().addMenu("&View")}
        for menu, name, text, keys, slot in (
                ("animation", "play", "Play/pause", ["Space"], self.playback.toggle),
                ("animation", "add_key", "Add key at the playhead", ["I", "K"], lambda: self.add_key(self.frame)),
                ("animation", "key_pose", "Key the current pose", ["Shift+K"],
                 lambda: self.key_current_pose(self.frame)),
                ("animation", "previous_frame", "Previous frame", ["Left"], lambda: self.step_frames(-1)),
                ("animation", "next_frame", "Next frame", ["Right"], lambda: self.step_frames(1)),
                ("animation", "next_key", "Next key", ["Up"], lambda: self.jump_to_key(1)),
                ("animation", "previous_key", "Previous key", ["Down"], lambda: self.jump_to_key(-1)),
                ("view", "frame", "Frame the figure", ["F"], self.viewport.frame_figure),
                ("view", "front", "Front view", ["1", "Num+1"], lambda: self.viewport.set_view("front")),
                ("view", "side", "Side view", ["3", "Num+3"], lambda: self.viewport.set_view("side")),
                ("view", "top", "Top view", ["7", "Num+7"], lambda: self.viewport.set_view("top"))):
            action = menus[menu].addAction(text)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, s=slot: s())
            self.key_actions[name] = action
        self.menuBar().addMenu("&Pose").addActions(list(self.viewport.pose_actions.values()))  # keys: viewport.py
        self._own_keys = _OwnKeys(self)
        for widget in self.findChildren(QAbstractButton) + self.findChildren(QComboBox):
            widget.installEventFilter(self._own_keys)

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
        self.stack.indexChanged.connect(self._autosave)
        self.stack.indexChanged.connect(self._after_undo_or_redo)
        self.stack.cleanChanged.connect(self._show_title)
        self.prompt_edit.textChanged.connect(lambda: self._set("prompt", self.prompt_edit.toPlainText()))
        self.seconds_spin.valueChanged.connect(self._length_edited)
        self.estimate_box.toggled.connect(self._length_edited)
        self.seed_spin.valueChanged.connect(lambda v: self._set("seed", v))
        self.new_seed_button.clicked.connect(self._new_seed)
        self.samples_spin.valueChanged.connect(lambda v: self._set("samples", v))
        self.guidance_spin.valueChanged.connect(lambda v: self._set("guidance", v))
        self.steps_spin.valueChanged.connect(lambda v: self._set("steps", v))
        self.advanced_button.toggled.connect(self._fold_advanced)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.jobs.cancel)

        self.timeline.frame_changed.connect(self.set_frame)
        self.playback.frame_changed.connect(self.set_frame)
        self.timeline.key_selected.connect(lambda i: self.select_key(None if i < 0 else i))
        self.timeline.key_add_requested.connect(self.add_key)
        self.timeline.key_moved.connect(lambda i, frame: self._push(commands.MoveKey(self.project, i, frame / FPS)))
        self.timeline.key_delete_requested.connect(self.delete_key)
        self.timeline.key_timing_requested.connect(
            lambda i, hold, ease: self._push(commands.SetKeyTiming(self.project, i, hold / FPS, ease / FPS)))
        self.timeline.pose_key_requested.connect(self.key_current_pose)
        self.timeline.keep_spans_changed.connect(
            lambda spans: self._push(commands.SetKeepSpans(self.project, [(a / FPS, b / FPS) for a, b in spans])))
        self.layout_box.currentIndexChanged.connect(
            lambda i: self.viewport.set_layout("side" if i == 0 else "overlay"))
        self.sample_box.currentIndexChanged.connect(self._sample_chosen)
        self.viewport.sample_clicked.connect(self._sample_chosen)
        self.viewport.set_pose_source(lambda: figure_at(self.project, self.frame, FPS))
        self.viewport.pose_edited.connect(self._posed_in_3d)

        self.canvas.joint_moved.connect(self._joint_moved)
        self.canvas.image_dropped.connect(self.pose_from_photo)
        self.canvas.pose_file_dropped.connect(self.load_pose)
        self.add_key_button.clicked.connect(lambda: self.add_key(self.frame))
        self.delete_key_button.clicked.connect(lambda: self.delete_key(self.selected_key))
        self.mirror_button.clicked.connect(lambda: self._edit_pose(mirrored(self.canvas.pose()), "Mirror pose"))
        self.reset_button.clicked.connect(lambda: self._edit_pose(default_pose(self._canvas_size()), "Reset pose"))
        self.load_pose_button.clicked.connect(self._load_pose_dialog)
        self.photo_button.clicked.connect(self._photo_dialog)
        self.imagine_button.clicked.connect(self._imagine_dialog)
        self.constrain_box.currentTextChanged.connect(self._constrain_chosen)

        self.fps_spin.valueChanged.connect(lambda v: self._set("export", replace(self.project.export, fps=v)))
        self.units_box.currentTextChanged.connect(
            lambda units: self._set("export", replace(self.project.export, units=units)))
        self.rig_box.toggled.connect(lambda on: self._set("export", replace(self.project.export, use_rig=on)))
        for kind, button in self.export_buttons.items():
            button.clicked.connect(lambda _=False, k=kind: self._export_dialog(k))

        self.resolver.worker.finished.connect(self._resolve_finished)
        self.resolver.worker.failed.connect(self._resolve_failed)
        worker = self.jobs.worker
        worker.progress.connect(self._progress)
        worker.finished.connect(self._job_finished)
        worker.failed.connect(self._job_failed)
        worker.cancelled.connect(self._job_cancelled)

    # ---- edits ---------------------------------------------------------------------------------

    def _push(self, command: commands.ProjectCommand) -> None:
        """Every edit comes here: pushing runs the command, records it for undo, and shows what changed."""
        command.notify = self._show
        self.error_label.hide()
        self.stack.push(command)

    def _set(self, name: str, value) -> None:
        if not self._quiet and getattr(self.project, name) != value:
            self._push(commands.SetField(self.project, name, value))

    def _length_edited(self) -> None:
        self.seconds_spin.setEnabled(not self.estimate_box.isChecked())
        self._set("seconds", None if self.estimate_box.isChecked() else round(self.seconds_spin.value(), 2))

    def _new_seed(self) -> None:
        self.seed_spin.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))

    def _sample_chosen(self, index: int) -> None:
        if not self._quiet and index >= 0 and index != self.project.chosen_sample:
            self._push(commands.ChooseSample(self.project, index))

    def _constrain_chosen(self, constrain: str) -> None:
        if not self._quiet and self.selected_key is not None:
            self._push(commands.SetConstraint(self.project, self.selected_key, constrain))

    @reported
    def add_key(self, frame: int, pose2d: Pose2D | None = None) -> None:
        """A key pose at `frame`: the given pose, else a copy of the pose on the canvas."""
        pose2d = pose2d or self.canvas.pose()
        key = KeyPose(time=frame / FPS, pose2d=pose2d, pose3d=lift_pose(pose2d),
                      name=f"key {len(self.project.keys) + 1}")
        self._push(commands.AddKey(self.project, key))
        self.select_key(len(self.project.keys) - 1)

    def key_current_pose(self, frame: int) -> None:
        """A 3D key at `frame` from the chosen motion's pose there (its joints as delivered), standing
        where the motion stands and facing its way, to edit from there."""
        motion = self.project.motion
        if motion is None:
            self.show_error("Generate or open a motion first: there is no pose to key yet.")
            return
        pose = motion[min(int(frame), len(motion) - 1)]  # (22, 3)
        pose3d = KeyPose3D(joints=canonical_pose(pose), root_position=np.array(pose[0], dtype=np.float64),
                           facing=float(body_heading(pose)),
                           source={"motion": f"sample {self.project.chosen_sample + 1}", "frame": int(frame)})
        key = KeyPose(time=frame / FPS, pose3d=pose3d, name=f"key {len(self.project.keys) + 1}")
        self._push(commands.AddKey(self.project, key))
        self.select_key(len(self.project.keys) - 1)

    def delete_key(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.project.keys):
            self._push(commands.DeleteKey(self.project, index))

    def select_key(self, index: int | None) -> None:
        """Show key `index` on the canvas (None: no key; the canvas keeps its pose to copy)."""
        self.selected_key = index if index is not None and 0 <= index < len(self.project.keys) else None
        self._show_key()

    @reported
    def _joint_moved(self, joint: int, old_xy: tuple, new_xy: tuple) -> None:
        if self.selected_key is None:
            return  # no key: the canvas is a scratch pose that "Add key" copies
        try:
            self._push(commands.MoveJoint(self.project, self.selected_key, joint, new_xy, base=self.canvas.pose()))
        finally:
            self._show_key()  # the canvas shows the key as it is (also when the move was refused)

    @reported
    def _edit_pose(self, pose2d: Pose2D, text: str) -> None:
        if self.selected_key is None:
            self.canvas.set_pose(pose2d)
        else:
            self._push(commands.EditPose(self.project, self.selected_key, pose2d, text))

    @reported
    def load_pose(self, path: str) -> None:
        """A pose file: a 2D pose is lifted; a 3D key pose is taken as it is. No key selected: adds one."""
        pose = read_pose_file(path)
        if self.selected_key is None:
            if isinstance(pose, KeyPose3D):
                key = KeyPose(time=self.frame / FPS, pose3d=pose, name=Path(path).stem)
                self._push(commands.AddKey(self.project, key))
                self.select_key(len(self.project.keys) - 1)
            else:
                self.add_key(self.frame, pose)
        elif isinstance(pose, KeyPose3D):
            self._push(commands.SetPose3D(self.project, self.selected_key, pose))
        else:
            self._push(commands.EditPose(self.project, self.selected_key, pose, "Load pose"))

    @reported
    def _posed_in_3d(self, joints: np.ndarray, text: str, holds_place: bool) -> None:
        """A pose finished in the 3D view becomes the key at the playhead: added, or its pose replaced."""
        command, index = pose_command(self.project, self.frame, FPS, joints, text, holds_place)
        self._push(command)
        self.select_key(index)

    def _apply_found_pose(self, pose: Pose2D, text: str) -> None:
        if self.selected_key is None:
            self.add_key(self.frame, pose)
        else:
            self._edit_pose(pose, text)

    # ---- local re-solves -----------------------------------------------------------------------

    def _queue_resolve(self, command: commands.KeyEdit) -> None:
        """Mark the stretch a key edit changes stale and re-solve it in the background (conditioning/
        resolve.py): every frame outside it stays exactly as it is."""
        motion = self.project.motion
        if motion is None or not command.applied:
            return
        edited = [key.frame(FPS) for key in (command.old, command.new) if key is not None]
        held = [key.frame(FPS) + key.hold_frames(FPS) for key in (command.old, command.new) if key is not None]
        index = command.index if isinstance(command, commands.ReplaceKey) else len(self.project.keys) - 1
        anchors = [key.frame(FPS) for i, key in enumerate(self.project.keys) if i != index]
        kept = [(int(round(a * FPS)), int(round(b * FPS))) for a, b in self.project.keep_spans]
        stretch = stale_stretch(len(motion), [f for f in edited + held if f < len(motion)], anchors, kept)
        if stretch is None:
            return
        moved = (edited[0], edited[1]) if len(edited) == 2 and edited[0] != edited[1] else None
        self._resolve_queue.append((command, stretch, moved, self._motion_epoch))
        self._resolve_next()

    def _resolve_next(self) -> None:
        """Start the next queued re-solve whose edit still stands, on the motions as they are now."""
        while self._resolving is None and self._resolve_queue:
            command, stretch, moved, epoch = self._resolve_queue.pop(0)
            if not command.applied or epoch != self._motion_epoch or self.project.motion is None:
                continue  # undone, or the motions were replaced (a generation already passes the keys)
            keys = tuple(StretchKey(k.pose3d, k.frame(FPS), k.constrain, k.hold_frames(FPS), k.ease_frames(FPS))
                         for k in self.project.keys)
            self._resolving = ResolveJob(tuple(self.project.motions), keys, stretch, moved, edit=command)
            self.resolver.submit(self._resolving)
        self._show_stale()

    def _resolve_finished(self, job, motions) -> None:
        if job is not self._resolving:
            return  # asked for a project that has since been replaced
        self._resolving = None
        now = self.project.motions
        if job.edit.applied and len(now) == len(job.motions) and all(a is b for a, b in zip(now, job.motions)):
            job.edit.attach_resolved(list(job.motions), [np.asarray(m, dtype=np.float32) for m in motions])
            self._autosave()
        self._resolve_next()

    def _resolve_failed(self, job, message: str) -> None:
        if job is self._resolving:
            self._resolving = None
            self.show_error(f"The motion around the key pose could not be re-solved: {message}")
            self._resolve_next()

    def _after_undo_or_redo(self, index: int) -> None:
        """A key edit pushed (or redone without its re-solve) is re-solved; undone edits are not stale."""
        forward, self._stack_index = index > self._stack_index, index
        top = self.stack.command(index - 1) if index > 0 else None
        waiting = [entry[0] for entry in self._resolve_queue] + ([self._resolving.edit] if self._resolving else [])
        if (forward and isinstance(top, commands.KeyEdit) and top.applied and top.resolved is None
                and not any(top is command for command in waiting)):
            self._queue_resolve(top)
        self._show_stale()

    def _show_stale(self) -> None:
        entries = [(command, stretch) for command, stretch, _, _ in self._resolve_queue]
        if self._resolving is not None:
            entries.append((self._resolving.edit, self._resolving.stretch))
        self.timeline.set_stale_spans([stretch for command, stretch in entries if command.applied])

    # ---- jobs ----------------------------------------------------------------------------------

    def generation_job(self) -> GenerateJob:
        p = self.project
        keys = tuple(KeyFrame(k.pose3d, k.frame(FPS), k.constrain, k.hold_frames(FPS), k.ease_frames(FPS),
                              k.ease_frames(FPS)) for k in p.keys)
        job = GenerateJob(prompt=p.prompt, frames=None if p.seconds is None else int(round(p.seconds * FPS)),
                          samples=p.samples, seed=p.seed,
                          settings=SamplingSettings(steps=p.steps, guidance_scale=p.guidance), keys=keys)
        if p.keep_spans and p.motion is not None:
            spans = tuple((int(round(a * FPS)), int(round(b * FPS))) for a, b in p.keep_spans)
            job = replace(job, frames=None, source=p.motion, keep=spans)
        return job

    def generate(self) -> None:
        if not self.project.prompt.strip():
            self.show_error("Type what the person does first.")
            return
        self._start(self.generation_job())

    @reported
    def pose_from_photo(self, path: str) -> None:
        self._start(PhotoJob(str(path)))

    def imagine(self, prompt: str) -> None:
        self._start(ImagineJob(prompt, sd_dir=self.locations.sd_dir, openpose_dir=self.locations.openpose_dir or None,
                               seed=self.project.seed))

    def export_to(self, path: str | Path, kind: str = "bvh") -> None:
        """Write the chosen motion (in the worker); the message line says what was written."""
        if self.project.motion is None:
            self.show_error("Generate a motion first: there is nothing to export yet.")
            return
        export = self.project.export
        self._start(ExportJob(self.project.motion, str(path), kind, fps=export.fps, units=export.units,
                              rotation_order=export.rotation_order, title=self.project.prompt,
                              rig=export.rig if export.use_rig else None))

    def open_motion(self, path: str | Path) -> None:
        """A BVH (any rig the importer maps) or a joints .npy becomes the project's motion (in the worker);
        a file that cannot be one is said in a message box, and the project stays as it was."""
        self._start(OpenMotionJob(str(path)))

    @property
    def busy(self) -> bool:
        return self.cancel_button.isEnabled()

    def _start(self, job) -> None:
        if self.busy:
            self.show_error("Wait for the running job to finish, or cancel it.")
            return
        self.error_label.hide()
        self._set_busy(True)
        self.progress_bar.setRange(0, 0)  # busy until the first progress report
        self.message_label.setText("Working…")
        self._job = job
        self.jobs.submit(job)

    def _set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for widget in (self.generate_button, self.photo_button, self.imagine_button, *self.export_buttons.values()):
            widget.setEnabled(not busy)
        if not busy:
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("")
            self._show_imagine_state()

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{stage}: {done} / {total}")

    def _job_finished(self, job, result) -> None:
        self._set_busy(False)
        if job is not self._job:
            return  # started for a project that has since been replaced
        if isinstance(job, GenerateJob):
            text = "Regenerate outside kept spans" if result.edited else "Generate"
            self._push(commands.SetMotions(self.project, result.motions, text))
            self.message_label.setText(self._generated_message(result))
        elif isinstance(job, (PhotoJob, ImagineJob)):
            self._apply_found_pose(result.pose, "Pose from photo" if isinstance(job, PhotoJob) else "Imagined pose")
            self.message_label.setText(result.note or "Pose found.")
        elif isinstance(job, ExportJob):
            self.message_label.setText("Wrote " + ", ".join(str(p) for p in result))
        elif isinstance(job, OpenMotionJob):
            self._opened(Path(job.path), result)

    def _opened(self, path: Path, opened: OpenedMotion) -> None:
        export = self.project.export
        if opened.rig:
            fps = int(round(opened.fps)) if 1 <= round(opened.fps) <= self.fps_spin.maximum() else export.fps
            export = replace(export, rig=opened.rig, use_rig=True, fps=fps)
        else:
            export = replace(export, rig="", use_rig=False)
        self._push(commands.OpenMotion(self.project, opened.joints, export, path.name, FPS))
        frames = len(opened.joints)
        text = f"Opened {path.name}: {frames} frames ({frames / FPS:.1f} s at {FPS} fps)."
        if opened.rig:
            text += f" BVH exports go onto its rig at {export.fps} fps (untick \"{self.rig_box.text()}\" for ours)."
        self.message_label.setText(" ".join(filter(None, (text, opened.note))))

    def _generated_message(self, result: GenerateResult) -> str:
        seconds = len(result.motions[0]) / FPS
        text = f"{len(result.motions)} motion(s) of {seconds:.1f} s, seed {result.seed}"
        kept = [k for k in self.project.keys
                if any(round(a * FPS) <= k.frame(FPS) < round(b * FPS) for a, b in self.project.keep_spans)]
        if result.edited and kept:
            text += f"; {len(kept)} key pose(s) in kept spans stay as the kept motion has them"
        return text + "." + (f" {result.warning}" if result.warning else "")

    def _job_failed(self, job, message: str) -> None:
        self._set_busy(False)
        if job is self._job:
            self.message_label.setText("")
            if isinstance(job, OpenMotionJob):
                self._tell("Cannot open the motion", message)
            else:
                self.show_error(message)

    def _job_cancelled(self, job) -> None:
        self._set_busy(False)
        self.message_label.setText("Cancelled.")

    def _tell(self, title: str, message: str) -> None:
        """A window-modal message box (kept in `message_box` until it is closed)."""
        box = self.message_box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=self)
        box.finished.connect(lambda _: setattr(self, "message_box", None))
        box.open()

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.statusBar().showMessage(message, 10_000)

    # ---- project -> widgets ---------------------------------------------------------------------

    @contextmanager
    def _quietly(self):
        """Widgets set from the project here do not send their changes back as edits."""
        quiet, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = quiet

    def _show(self, part: str) -> None:
        """Put one changed part of the project into the widgets."""
        with self._quietly():
            {"settings": self._show_settings, "export": self._show_settings, "keys": self._show_keys,
             "spans": self._show_spans, "motions": self._show_motions, "sample": self._show_sample,
             "resolved": self._show_resolved}[part]()

    def _show_everything(self) -> None:
        for part in ("settings", "motions", "keys", "spans"):
            self._show(part)
        self._show_title()
        self._show_imagine_state()

    def _show_settings(self) -> None:
        p = self.project
        if self.prompt_edit.toPlainText() != p.prompt:
            self.prompt_edit.setPlainText(p.prompt)
        self.estimate_box.setChecked(p.seconds is None)
        self.seconds_spin.setEnabled(p.seconds is not None)
        if p.seconds is not None:
            self.seconds_spin.setValue(p.seconds)
        for spin, value in ((self.seed_spin, p.seed), (self.samples_spin, p.samples), (self.guidance_spin, p.guidance),
                            (self.steps_spin, p.steps), (self.fps_spin, p.export.fps)):
            spin.setValue(value)
        self.units_box.setCurrentText(p.export.units)
        self.rig_box.setVisible(bool(p.export.rig))
        self.rig_box.setChecked(p.export.use_rig)
        self.rig_box.setText(f"onto {Path(p.export.rig).stem}'s rig" if p.export.rig else "onto the opened rig")
        self._show_length()

    def _show_length(self) -> None:
        motion = self.project.motion
        if motion is not None:
            frames = len(motion)
        elif self.project.seconds is not None:
            frames = int(round(self.project.seconds * FPS))
        else:
            frames = HUMANML3D.max_frames
        self.timeline.set_length(frames, FPS)
        self.playback.set_length(frames, FPS)
        self.set_frame(min(self.frame, frames - 1))

    def _show_keys(self) -> None:
        self.timeline.set_keys([k.frame(FPS) for k in self.project.keys],
                               [(k.hold_frames(FPS), k.ease_frames(FPS)) for k in self.project.keys])
        if self.selected_key is not None and self.selected_key >= len(self.project.keys):
            self.selected_key = None
        self._show_key()
        self._show_ghosts()

    def _show_key(self) -> None:
        """The selected key on the canvas, the lifted view and the key buttons."""
        self.timeline.set_selected_key(self.selected_key)
        has_key = self.selected_key is not None
        for widget in (self.delete_key_button, self.constrain_box):
            widget.setEnabled(has_key)
        if not has_key:
            self.key_label.setText("No key pose selected: the drawing below is what \"Add key\" uses.")
            self.lifted_view.set_pose(None)
            return
        key = self.project.keys[self.selected_key]
        self.key_label.setText(f"Key pose {self.selected_key + 1} of {len(self.project.keys)}, at {key.time:.2f} s"
                               + ("" if key.pose2d else " (a 3D pose: dragging a joint replaces it)"))
        self.canvas.set_pose(key.pose2d or default_pose(self._canvas_size()))
        self.lifted_view.set_pose(key.pose3d)
        with self._quietly():
            self.constrain_box.setCurrentText(key.constrain)

    def _canvas_size(self) -> tuple[int, int]:
        pose = self.canvas.pose()
        return pose.canvas if pose is not None else DEFAULT_CANVAS

    def _show_ghosts(self) -> None:
        motion = self.project.motion
        ghosts = []
        for key in self.project.keys:
            if motion is not None:
                ghosts.append(place_key_pose(key.pose3d, motion[min(key.frame(FPS), len(motion) - 1)], key.constrain))
            else:  # standing on the floor at the origin
                ghosts.append(key.pose3d.joints - [0.0, key.pose3d.joints[:, 1].min(), 0.0])
        self.viewport.set_key_ghosts(ghosts, [k.frame(FPS) for k in self.project.keys])
        self.viewport.refresh_pose()  # pose mode poses the key at the playhead as its ghost shows it

    def _show_spans(self) -> None:
        self.timeline.set_keep_spans([(int(round(a * FPS)), int(round(b * FPS))) for a, b in self.project.keep_spans])
        editing = bool(self.project.keep_spans) and self.project.motion is not None
        self.generate_button.setText("Regenerate outside kept spans" if editing else "Generate")

    def _show_resolved(self) -> None:
        """Motions re-solved around a key: same length and samples, the camera left where it is."""
        motions = self.project.motions
        self.viewport.set_motions(motions, [f"sample {i + 1}" for i in range(len(motions))], frame_camera=False)
        self._show_ghosts()

    def _show_motions(self) -> None:
        self._motion_epoch += 1
        motions = self.project.motions
        self.viewport.set_motions(motions, [f"sample {i + 1}" for i in range(len(motions))])
        self.sample_box.clear()
        self.sample_box.addItems([f"sample {i + 1}" for i in range(len(motions))])
        self._show_sample()
        self._show_length()
        self._show_spans()

    def _show_sample(self) -> None:
        self.sample_box.setCurrentIndex(self.project.chosen_sample if self.project.motions else -1)
        self.viewport.set_selected(self.project.chosen_sample)
        self._show_ghosts()

    def set_frame(self, frame: int) -> None:
        """Show `frame` everywhere (the widget that sent it already shows it: playback keeps its clock)."""
        self.frame = int(frame)
        self.viewport.set_frame(self.frame)
        self.timeline.set_frame(self.frame)
        if self.playback.frame != self.frame:
            self.playback.set_frame(self.frame)

    def _show_title(self) -> None:
        name = self.path.name if self.path else "untitled"
        self.setWindowTitle(f"{name}[*] — KeyMask Studio")
        self.setWindowModified(not self.stack.isClean())

    def _show_imagine_state(self) -> None:
        usable, why = availability(self.locations)["sd_dir"]
        self.imagine_button.setEnabled(usable and not self.busy)
        self.imagine_button.setToolTip("Text -> Stable Diffusion image -> pose" if usable else why)

    def _fold_advanced(self, open_: bool) -> None:
        self.advanced.setVisible(open_)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)

    # ---- files ---------------------------------------------------------------------------------

    def _replace_project(self, project: Project, path: Path | None) -> None:
        if self.busy:
            self.jobs.cancel()
        self._job = None
        self._resolve_queue.clear()
        self._resolving = None
        self.project, self.path = project, path
        self.selected_key = None
        self._replacing = True  # clearing the stack is no edit: the recovery file stays as it is
        try:
            self.stack.clear()
        finally:
            self._replacing = False
        self._stack_index = 0
        self._show_everything()

    def new_project(self) -> None:
        if self._may_discard():
            self._forget_recovery()
            self._replace_project(Project(), None)

    @reported
    def open_project(self, path: str | Path) -> None:
        """Open a project file (the edits of the open project are dropped: ask `_may_discard` first)."""
        project = load_project(path)
        self._replace_project(project, Path(path))
        self.message_label.setText(f"Opened {path}.")

    @reported
    def save_to(self, path: str | Path) -> None:
        path = Path(path)
        save_project(path, self.project)
        self._forget_recovery()
        self.path = path
        self.stack.setClean()
        self._show_title()
        self.message_label.setText(f"Saved {path}.")

    def save(self) -> bool:
        if self.path is None:
            return self._save_as_dialog()
        self.save_to(self.path)
        return self.stack.isClean()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.locations, self)
        if dialog.exec():
            self.locations = dialog.locations()
            save_locations(self.locations)
            self.jobs.worker.set_model(self.locations.model_folder(), self.locations.clip_file())
            self._show_imagine_state()

    # ---- recovery ------------------------------------------------------------------------------

    @property
    def recovery_file(self) -> Path:
        return recovery_path(self.path)

    def _autosave(self) -> None:
        """A recovery file exactly while there are unsaved edits."""
        if self._replacing:
            return
        try:
            if self.stack.isClean():
                self._forget_recovery()
            else:
                write_recovery(self.recovery_file, self.project, self.path)
        except Exception as error:
            self.show_error(f"The recovery file could not be written: {readable(error)}")
        self._show_title()

    def _forget_recovery(self) -> None:
        self.recovery_file.unlink(missing_ok=True)

    def _offer_recovery(self, recover: str) -> None:
        """Unsaved edits a killed studio left behind: restored ("yes"), or asked about first ("ask")."""
        found = self._newest_recovery()
        if found is None or recover == "no":
            return
        if recover == "yes":
            self._restore(*found)
        else:
            self._ask_to_restore(*found)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._ask_when_shown:
            self._ask_when_shown = False
            QTimer.singleShot(0, self._ask_when_painted)

    def _ask_when_painted(self) -> None:
        """The recovery question, once the window is on the screen and drawn (not over a black window)."""
        if not self.isVisible():
            self._ask_when_shown = True  # hidden again before it was drawn: ask on the next show
        elif self.windowHandle() is None or not self.windowHandle().isExposed():
            QTimer.singleShot(20, self._ask_when_painted)
        else:
            self.repaint()
            self._offer_recovery("ask")

    def _ask_to_restore(self, file: Path, project: Project, belongs: Path | None) -> None:
        """A window-modal question that says when the edits were made and what they hold."""
        edited = datetime.fromtimestamp(file.stat().st_mtime)
        day = "today" if edited.date() == datetime.now().date() else f"on {edited:%a %d %b %Y}"
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved edits?",
                          f"KeyMask Studio was closed before {belongs.name if belongs else 'an untitled project'} "
                          "was saved. Restore the unsaved edits?", parent=self)
        box.setInformativeText(f"Edited {day} at {edited:%H:%M}: {summary(project, FPS)}.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText("Restore")
        box.button(QMessageBox.StandardButton.No).setText("Discard")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)

        def answered() -> None:
            self.recovery_dialog = None
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._restore(file, project, belongs)
            else:
                file.unlink(missing_ok=True)  # declined: not offered again

        box.finished.connect(answered)
        self.recovery_dialog = box
        box.open()

    def _restore(self, file: Path, project: Project, belongs: Path | None) -> None:
        self._replace_project(project, belongs)
        self.stack.resetClean()  # restored edits are not saved yet
        self._autosave()
        self.message_label.setText("Restored the unsaved edits.")

    def _newest_recovery(self) -> tuple[Path, Project, Path | None] | None:
        """The recovery of the open project, or with none open, the newest recovery of any project."""
        files = [self.recovery_file] if self.path else sorted(recovery_dir().glob("*.recovery.json"),
                                                             key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for file in files:
            try:
                project, belongs = read_recovery(file)
            except Exception as error:
                if file.exists():
                    self.show_error(f"A recovery file could not be read: {readable(error)}")
                continue
            if recovery_is_newer(file, belongs):
                return file, project, belongs
        return None

    # ---- dialogs and closing -------------------------------------------------------------------

    def _open_dialog(self) -> None:
        if self._may_discard():
            path, _ = QFileDialog.getOpenFileName(self, "Open project", "", f"KeyMask projects (*{SUFFIX} *.json)")
            if path:
                self._forget_recovery()
                self.open_project(path)
                self._offer_recovery("ask")

    def _save_as_dialog(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(self.path or "untitled" + SUFFIX),
                                              f"KeyMask projects (*{SUFFIX})")
        if not path:
            return False
        self.save_to(path if path.endswith(".json") else path + SUFFIX)
        return self.stack.isClean()

    def _open_motion_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a motion", "", MOTION_FILES)
        if path:
            self.open_motion(path)

    def _load_pose_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a pose", "", "Pose files (*.json)")
        if path:
            self.load_pose(path)

    def _photo_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pose from a photo", "", "Images (*.jpg *.jpeg *.png *.bmp *.webp)")
        if path:
            self.pose_from_photo(path)

    def _imagine_dialog(self) -> None:
        prompt, ok = QInputDialog.getText(self, "Imagine a pose", "Describe the pose:")
        if ok and prompt.strip():
            self.imagine(prompt.strip())

    def _export_dialog(self, kind: str) -> None:
        suggested = (self.path.with_suffix("").with_suffix("") if self.path else Path("motion")).with_suffix("." + kind)
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(suggested), EXPORT_KINDS[kind])
        if path:
            self.export_to(path if path.lower().endswith("." + kind) else path + "." + kind, kind)

    def _may_discard(self) -> bool:
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
        if not self._may_discard():
            event.ignore()
            return
        self.playback.pause()
        self.jobs.stop()
        self.resolver.stop()
        self._forget_recovery()
        event.accept()


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row
