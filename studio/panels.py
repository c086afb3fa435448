"""The studio window's two halves as widgets: the motion area (the 3D view, the playback bar and the
dope sheet) and the side panel, whose Motion group (prompt, length, seed, samples, Generate), Key pose
group (the 2D canvas, its 3D lift and the key buttons) and Export group are widgets of their own.

They only lay out their widgets and show values they are given; they never change the project. The
window wires their widgets to its edits and hands them the project's values to show.
"""

from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from keymask.core.spec import HUMANML3D
from keymask.studio.pose_canvas import LiftedPoseView, PoseCanvas, default_pose, front_view_pose
from keymask.studio.project import ExportSettings, KeyPose, Project
from keymask.studio.playback import PlaybackControls
from keymask.studio.timeline import Timeline
from keymask.studio.viewport import MotionViewport

FPS = HUMANML3D.fps
DEFAULT_CANVAS = (512, 512)  # pixels of the pose drawn for a new key
CAPTION_3D_KEY = "3D key, front view"


class MessageLine(QLabel):
    """A word-wrapped line of text in the side panel that asks for the height its text needs at the
    width it has (one line at least, so that the first message moves nothing), without Qt's
    height-for-width: a wrapped label with text would turn the side panel's scroll area to laying
    its groups out at their preferred heights, and scroll, the moment the first message shows."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, wordWrap=True)

    def hasHeightForWidth(self) -> bool:
        return False

    def _height(self) -> int:
        lines = self.heightForWidth(max(self.width(), 50)) if self.text() else 0
        return max(lines, self.fontMetrics().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._height())

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self._height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()  # wrapped at another width: maybe another number of lines


def compact(button: QPushButton) -> QPushButton:
    """A button that may shrink to its text (with the focus ring's padding) instead of the style's 80 px,
    so that a row of them fits the narrow side panel."""
    button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 24)
    return button


def row(*widgets: QWidget) -> QWidget:
    """The widgets side by side, without margins."""
    line = QWidget()
    layout = QHBoxLayout(line)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return line


class MotionArea(QWidget):
    """The 3D view over the playback bar (with the samples' layout and the sample to use) and the dope sheet."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewport = MotionViewport()
        self.timeline = Timeline()
        self.playback = PlaybackControls()
        self.layout_box = QComboBox()
        self.layout_box.addItems(["Side by side", "Overlaid"])
        self.sample_box = QComboBox()
        self.sample_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "sample 8" whole
        self.sample_box.setMinimumContentsLength(len("sample 8"))
        bar = QHBoxLayout()
        bar.addWidget(self.playback, 1)
        bar.addWidget(QLabel("Samples:"))
        bar.addWidget(self.layout_box)
        bar.addWidget(QLabel("Use:"))
        bar.addWidget(self.sample_box)
        column = QVBoxLayout(self)
        column.addWidget(self.viewport, 1)
        column.addLayout(bar)
        column.addWidget(self.timeline)


class MotionGroup(QGroupBox):
    """What to generate: the prompt, its length, seed, samples and (folded) sampling settings; Generate
    and Cancel, the progress bar (shown while a job runs), and the lines for messages and errors."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Motion", parent)
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
        self.exemplar_spin = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.25, decimals=2)
        self.exemplar_spin.setToolTip("Share of the motion held to a real training clip of the action the prompt "
                                      "reads as (1: the clip; 0: made from the words alone)")
        self.advanced_button = QToolButton(text="Advanced", checkable=True)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced = QWidget()
        fold = QFormLayout(self.advanced)
        fold.setContentsMargins(16, 0, 0, 0)
        fold.addRow("Guidance", self.guidance_spin)
        fold.addRow("Steps", self.steps_spin)
        fold.addRow("Real clip share", self.exemplar_spin)
        self.advanced.hide()
        self.advanced_button.toggled.connect(self.fold_advanced)
        self.new_seed_button.clicked.connect(self.new_seed)

        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", enabled=False)
        self.progress_bar = QProgressBar(textVisible=True)
        keep_place = self.progress_bar.sizePolicy()
        keep_place.setRetainSizeWhenHidden(True)  # no job, no bar; its place stays, so a job's bar moves nothing
        self.progress_bar.setSizePolicy(keep_place)
        self.clear_progress()
        self.message_label = MessageLine()
        self.error_label = MessageLine()
        self.error_label.setStyleSheet("color: #b71c1c")
        self.error_label.hide()

        form = QFormLayout(self)
        form.addRow(self.prompt_edit)
        form.addRow("Length", row(self.seconds_spin, self.estimate_box))
        form.addRow("Seed", row(self.seed_spin, self.new_seed_button))
        form.addRow("Samples", row(self.samples_spin, self.advanced_button))
        form.addRow(self.advanced)
        buttons = row(self.generate_button, self.cancel_button)
        buttons.layout().setStretch(0, 2)  # room for "Regenerate outside kept spans" inside the focus ring
        buttons.layout().setStretch(1, 1)
        form.addRow(buttons)
        form.addRow(row(self.progress_bar))  # in a row of its own: a form closes up a hidden widget's row
        form.addRow(self.message_label)
        form.addRow(self.error_label)

    def fold_advanced(self, open_: bool) -> None:
        self.advanced.setVisible(open_)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)

    def new_seed(self) -> None:
        """A random seed in the seed box (which edits the project as typing one does)."""
        self.seed_spin.setValue(int(np.random.default_rng().integers(0, 2**31 - 1)))

    def length(self) -> float | None:
        """The length typed, in seconds (to the hundredth), or None: estimate it from the text."""
        return None if self.estimate_box.isChecked() else round(self.seconds_spin.value(), 2)

    def show_settings(self, project: Project) -> None:
        if self.prompt_edit.toPlainText() != project.prompt:
            self.prompt_edit.setPlainText(project.prompt)
        self.estimate_box.setChecked(project.seconds is None)
        self.seconds_spin.setEnabled(project.seconds is not None)
        self.show_length(project)
        for spin, value in ((self.seed_spin, project.seed), (self.samples_spin, project.samples),
                            (self.guidance_spin, project.guidance), (self.steps_spin, project.steps),
                            (self.exemplar_spin, project.exemplar_share)):
            spin.setValue(value)

    def show_length(self, project: Project) -> None:
        """The length typed; with the estimate on, the length the estimate gave the motion (greyed)."""
        if project.seconds is not None:
            self.seconds_spin.setValue(project.seconds)
        elif project.motion is not None:
            self.seconds_spin.setValue(len(project.motion) / FPS)

    def show_progress(self, stage: str, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{stage}: {done} / {total}")

    def show_working(self) -> None:
        """A job started: the bar shows, busy until the job's first progress report."""
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.message_label.setText("Working…")

    def clear_progress(self) -> None:
        """No job runs: the bar is hidden (an empty bar looks like a text field), its place kept."""
        self.progress_bar.hide()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("")


class KeyPoseGroup(QGroupBox):
    """The selected key pose: drawn on the 2D canvas and lifted to 3D beside it, with the buttons
    that add, delete and change key poses."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Key pose", parent)
        self.key_label = MessageLine()  # wraps rather than widening the panel or running out of it
        self.canvas = PoseCanvas()
        self.canvas.set_pose(default_pose(DEFAULT_CANVAS))
        self.lifted_view = LiftedPoseView()
        self.add_key_button = QPushButton("Add as key")
        self.add_key_button.setToolTip("Add this 2D drawing as a key at the playhead (Shift+I or Shift+K). "
                                       "I or K key the pose the 3D figure shows there")
        self.delete_key_button = QPushButton("Delete key")
        self.mirror_button = QPushButton("Mirror")
        self.reset_button = QPushButton("Reset")
        self.load_pose_button = QPushButton("Load pose…")
        self.photo_button = QPushButton("From photo…")
        self.imagine_button = QPushButton("Imagine…")
        self.constrain_box = QComboBox()
        self.constrain_box.addItems(["body", "root"])
        self.constrain_box.setToolTip("body: the pose only; root: also the key's position and facing")
        for button in (self.add_key_button, self.delete_key_button, self.mirror_button, self.reset_button,
                       self.load_pose_button, self.photo_button, self.imagine_button):
            compact(button)
        views = QHBoxLayout()
        views.addWidget(self.canvas, 1)
        views.addWidget(self.lifted_view, 1)
        column = QVBoxLayout(self)
        column.addWidget(self.key_label)
        column.addLayout(views, 1)  # the drawings take the height the panel has
        # Three short rows (the key; the drawing; a pose from elsewhere) keep the side panel narrow.
        column.addWidget(row(self.add_key_button, self.delete_key_button, QLabel("Holds:"), self.constrain_box))
        column.addWidget(row(self.mirror_button, self.reset_button))
        column.addWidget(row(self.load_pose_button, self.photo_button, self.imagine_button))

    def canvas_size(self) -> tuple[int, int]:
        pose = self.canvas.pose()
        return pose.canvas if pose is not None else DEFAULT_CANVAS

    def show_key(self, key: KeyPose | None, index: int | None = None, count: int = 0) -> None:
        """Key `index` of `count` on the canvas and the lifted view; None: no key selected (the canvas
        keeps its drawing, which "Add as key" copies). A 3D key (no drawing) is drawn seen from
        the front, captioned so. The constraint box is set without sending its change."""
        for widget in (self.delete_key_button, self.constrain_box):
            widget.setEnabled(key is not None)
        if key is None:
            self.key_label.setText("No key selected: \"Add as key\" adds the drawing below.")
            self.canvas.set_caption("")
            self.lifted_view.set_pose(None)
            return
        where = f"Key pose {index + 1} of {count}, at {key.time:.2f} s"
        if key.pose2d is not None:
            self.key_label.setText(where)
            self.canvas.set_pose(key.pose2d)
        else:
            self.key_label.setText(f"{where}: a 3D key, drawn from the front. Dragging a joint here makes it "
                                   "a 2D key; pose it in the 3D view (P) to keep it 3D.")
            self.canvas.set_pose(front_view_pose(key.pose3d, self.canvas_size()))
            self.canvas.set_caption(CAPTION_3D_KEY)
        self.lifted_view.set_pose(key.pose3d)
        blocked = self.constrain_box.blockSignals(True)
        self.constrain_box.setCurrentText(key.constrain)
        self.constrain_box.blockSignals(blocked)


class ExportGroup(QGroupBox):
    """The BVH frame rate and units, onto an opened file's rig or not, and a button per kind of file."""

    KINDS = (("bvh", "BVH…"), ("npy", "Joints NPY…"), ("gif", "GIF preview…"))

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Export", parent)
        self.fps_spin = QSpinBox(minimum=1, maximum=240, suffix=" fps")
        self.units_box = QComboBox()
        self.units_box.addItems(["m", "cm"])
        self.export_buttons = {kind: QPushButton(label) for kind, label in self.KINDS}
        self.rig_box = QCheckBox("onto the opened rig")
        self.rig_box.setToolTip("Write the BVH on the skeleton of the opened BVH file (its joints, units and axes)")
        self.rig_box.hide()
        form = QFormLayout(self)
        form.addRow("BVH", row(self.fps_spin, self.units_box, self.rig_box))
        form.addRow(row(*self.export_buttons.values()))

    def show_export(self, export: ExportSettings) -> None:
        self.fps_spin.setValue(export.fps)
        self.units_box.setCurrentText(export.units)
        self.rig_box.setVisible(bool(export.rig))
        self.rig_box.setChecked(export.use_rig)
        self.rig_box.setText(f"onto {Path(export.rig).stem}'s rig" if export.rig else "onto the opened rig")


class SidePanel(QWidget):
    """The Motion and Key pose groups in a scroll area (no wider than they need), the Export group
    below it, always in view."""

    def __init__(self, motion: MotionGroup, pose: KeyPoseGroup, export: ExportGroup, parent: QWidget | None = None):
        super().__init__(parent)
        groups = QWidget()
        side = QVBoxLayout(groups)
        side.addWidget(motion)
        side.addWidget(pose, 1)  # the pose drawings grow with the window; below their least, it scrolls
        scroll = self.scroll = QScrollArea()
        scroll.setWidget(groups)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no Tab stop of its own: the wheel still scrolls it
        scroll.setMinimumWidth(groups.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        column = QVBoxLayout(self)
        margins = side.contentsMargins()
        column.setContentsMargins(0, 0, 0, margins.bottom())
        column.addWidget(scroll, 1)
        below = QVBoxLayout()
        below.setContentsMargins(margins.left(), 0, margins.right(), 0)  # lined up with the groups above it
        below.addWidget(export)
        column.addLayout(below)
