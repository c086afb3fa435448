"""Key pose editing: a 2D OpenPose skeleton to drag joint by joint, and its 3D lift seen twice.

`PoseCanvas` shows a Pose2D (COCO-18, pixels of its canvas: x right, y down) in OpenPose colours
on the pose's canvas, fitted into the widget with its aspect ratio kept. Joints are dragged with
the mouse; a drag is emitted once, on release, as `joint_moved(joint, old_xy, new_xy)` in pose
pixels, so that one drag is one undo step. A missing joint (confidence 0) is parked in a column
at the canvas's right edge, drawn hollow: dragging it onto the body places it. An xy of
(nan, nan) means "missing": Delete on the last touched joint emits a move to (nan, nan), and
`move_joint(joint, (nan, nan))` takes the joint away again (how an undo of a placement works).

`LiftedPoseView` draws a KeyPose3D (22 joints, metres, Y up, facing +Z) from the front and from
the figure's left side, as `conditioning.render.render_pose_preview` does, in the 3D view's
left/right colours.

A 3D key (one without a drawing) is shown on the canvas as `front_view_pose` draws it: its COCO-18
points seen from the front, as the lifted view's "front" panel sees its joints, with a caption
saying so (`set_caption`).

`mirrored`, `default_pose` and `front_view_pose` are pure functions on poses.
"""

import math
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PyQt6.QtWidgets import QWidget

from keymask.conditioning.lifting.projection import coco18_from_joints
from keymask.conditioning.poses import COCO18_JOINTS, COCO18_LIMBS, KeyPose3D, Pose2D
from keymask.conditioning.render import JOINT_RADIUS, OPENPOSE_COLOURS, STICK_HALF_WIDTH, limb_colour
from keymask.core.preview import project
from keymask.core.skeleton import HUMANML3D_SKELETON
from keymask.studio.figures import joint_sides, side_colour

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
POSE_SUFFIXES = (".json",)
MARGIN = 10  # widget pixels around the canvas
CAPTION_GAP = 6  # widget pixels between the caption and the canvas: a joint's dot on the canvas's edge stays clear
PICK_RADIUS = 14  # widget pixels: how near a press must be to a joint to take it
DRAG_THRESHOLD = 2  # widget pixels a press must move before it counts as a drag
_SLOT_SPACING = 20  # widget pixels between parked (missing) joints
FRONT_VIEW = {"azimuth_deg": 0.0, "elevation_deg": 0.0}  # core/preview.py's camera for the figure's front
FIGURE_FILL = 0.85  # of the canvas's smaller side: what a 3D key's figure seen from the front spans

# COCO-18 left/right pairs: (right, left).
COCO18_MIRROR_PAIRS = ((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17))
_MIRROR = np.arange(len(COCO18_JOINTS))
for _right, _left in COCO18_MIRROR_PAIRS:
    _MIRROR[_right], _MIRROR[_left] = _left, _right

_BACKGROUND = QColor(28, 29, 33)
_CANVAS_EDGE = QColor(78, 80, 88)
_MISSING = QColor(150, 152, 160)
_TEXT = QColor(205, 208, 214)
_HINT = QColor(130, 133, 140)
_FOCUS = QColor(61, 157, 243)  # the window's focus ring colour

# A standing A-pose facing the camera (its right side on the image's left), as fractions of the
# figure's height: (x from the centre line, y from the top of the head).
_DEFAULT_POSE = {
    "nose": (0.0, 0.075), "neck": (0.0, 0.18),
    "right_shoulder": (-0.11, 0.19), "right_elbow": (-0.16, 0.34), "right_wrist": (-0.20, 0.48),
    "left_shoulder": (0.11, 0.19), "left_elbow": (0.16, 0.34), "left_wrist": (0.20, 0.48),
    "right_hip": (-0.06, 0.50), "right_knee": (-0.065, 0.70), "right_ankle": (-0.07, 0.90),
    "left_hip": (0.06, 0.50), "left_knee": (0.065, 0.70), "left_ankle": (0.07, 0.90),
    "right_eye": (-0.025, 0.06), "left_eye": (0.025, 0.06), "right_ear": (-0.05, 0.07), "left_ear": (0.05, 0.07),
}


def copy_pose(pose: Pose2D) -> Pose2D:
    return Pose2D(keypoints=pose.keypoints.copy(), confidence=pose.confidence.copy(), canvas=pose.canvas,
                  world=None if pose.world is None else pose.world.copy(), source=dict(pose.source))


def default_pose(canvas: tuple[int, int] = (512, 512)) -> Pose2D:
    """A standing A-pose facing the camera, centred on a canvas of (width, height) pixels."""
    width, height = canvas
    figure = min(0.85 * height, 2.0 * width)  # pixels from the top of the head to the ankles' level
    top = height / 2 - 0.475 * figure  # the figure's fractions run from about 0.05 to 0.9
    keypoints = np.array([_DEFAULT_POSE[name] for name in COCO18_JOINTS]) * figure + [width / 2, top]  # (18, 2)
    return Pose2D(keypoints=keypoints, confidence=np.ones(len(COCO18_JOINTS)), canvas=(width, height),
                  source={"default": "A-pose"})


def front_view_pose(pose3d: KeyPose3D, canvas: tuple[int, int] = (512, 512)) -> Pose2D:
    """A 3D key pose as a drawing: its COCO-18 points seen from the front (the lifted view's front
    panel), centred on a canvas of (width, height) pixels at a scale that fits the figure."""
    width, height = canvas
    points = project(coco18_from_joints(pose3d.joints), **FRONT_VIEW)  # (18, 2) metres: u right, v up
    low, high = points.min(axis=0), points.max(axis=0)
    scale = FIGURE_FILL * min(width, height) / max(float((high - low).max()), 1.0)  # pixels per metre
    middle = (low + high) / 2
    keypoints = np.stack([width / 2 + (points[:, 0] - middle[0]) * scale,
                          height / 2 - (points[:, 1] - middle[1]) * scale], axis=1)  # (18, 2) pixels, y down
    return Pose2D(keypoints=keypoints, confidence=np.ones(len(COCO18_JOINTS)), canvas=(width, height),
                  source={"3D key": "front view"})


def body_centre_x(pose: Pose2D) -> float:
    """x of the body's vertical centre line: the neck and the middles of the shoulders and of the hips."""
    present = pose.present & np.isfinite(pose.keypoints).all(axis=1)
    xs = [pose.keypoints[1, 0]] if present[1] else []
    for right, left in ((2, 5), (8, 11)):
        if present[right] and present[left]:
            xs.append((pose.keypoints[right, 0] + pose.keypoints[left, 0]) / 2)
    if xs:
        return float(np.mean(xs))
    if present.any():
        x = pose.keypoints[present, 0]
        return float((x.min() + x.max()) / 2)
    return pose.canvas[0] / 2


def mirrored(pose: Pose2D) -> Pose2D:
    """The pose's mirror image about the body's vertical centre line: left and right joints swapped."""
    centre = body_centre_x(pose)
    keypoints = pose.keypoints[_MIRROR].copy()  # (18, 2) left <-> right
    keypoints[:, 0] = 2 * centre - keypoints[:, 0]
    world = None
    if pose.world is not None:
        world = pose.world[_MIRROR].copy()  # (18, 3) camera axes: the mirror turns x over
        world[:, 0] = -world[:, 0]
    source = dict(pose.source)
    source["mirrored"] = not source.get("mirrored", False)
    return Pose2D(keypoints=keypoints, confidence=pose.confidence[_MIRROR].copy(), canvas=pose.canvas, world=world,
                  source=source)


def dropped_file(paths: list[str]) -> tuple[str, str] | None:
    """("image" or "pose", path) for the first image or .json file among dropped paths."""
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            return "image", path
        if suffix in POSE_SUFFIXES:
            return "pose", path
    return None


def _qcolor(rgb: tuple[int, int, int]) -> QColor:
    return QColor(*rgb)


class PoseCanvas(QWidget):
    joint_moved = pyqtSignal(int, tuple, tuple)  # (joint, old (x, y), new (x, y)), pose pixels; nan = missing
    image_dropped = pyqtSignal(str)  # path of a dropped image file
    pose_file_dropped = pyqtSignal(str)  # path of a dropped .json pose file

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pose: Pose2D | None = None
        self._original: Pose2D | None = None  # as set: edits are compared with it
        self._background: QImage | None = None
        self._caption = ""
        self._hover: int | None = None
        self._active: int | None = None  # the joint last pressed (Delete takes it away)
        self._drag_joint: int | None = None
        self._drag_old = (math.nan, math.nan)
        self._drag_was_missing = False
        self._press = QPointF()
        self._moved = False
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(140, 80)  # fits a 1024 x 700 window with a 3D key's message and three button rows

    # ---- public API ----------------------------------------------------------------------------

    def set_pose(self, pose: Pose2D | None) -> None:
        """Show a copy of `pose` (None: an empty canvas asking for a drop), without a caption."""
        self._pose = None if pose is None else copy_pose(pose)
        self._original = None if pose is None else copy_pose(pose)
        self._drag_joint = self._hover = self._active = None
        self._caption = ""
        self.update()

    def set_caption(self, text: str) -> None:
        """A few words about what the canvas shows, until the next pose: drawn in a strip above the pose's
        canvas (which shrinks to leave room), so that they never cover the figure."""
        self._caption = text
        self.update()

    def caption(self) -> str:
        return self._caption

    def pose(self) -> Pose2D | None:
        """A copy of the pose as edited; its source says "edited" when it differs from the one set."""
        if self._pose is None:
            return None
        pose = copy_pose(self._pose)
        if self._edited():
            pose.source["edited"] = True
        return pose

    def set_background(self, image: QImage | None) -> None:
        """An image drawn dimmed under the skeleton (the photo a pose came from), stretched to the canvas."""
        self._background = image
        self.update()

    def move_joint(self, joint: int, xy: tuple[float, float]) -> None:
        """Put `joint` at xy (pose pixels); a non-finite xy marks it missing. Emits nothing."""
        if self._pose is None:
            raise ValueError("The canvas has no pose to move a joint of.")
        x, y = float(xy[0]), float(xy[1])
        pose = self._pose
        if math.isfinite(x) and math.isfinite(y):
            pose.keypoints[joint] = (x, y)
            if pose.confidence[joint] <= 0:
                back = self._original.confidence[joint]  # a joint placed again gets its old confidence back
                pose.confidence[joint] = back if back > 0 else 1.0
        else:
            pose.confidence[joint] = 0.0
        if pose.world is not None:  # the photo's 3D cue holds only where the joint is where the photo put it
            original = self._original
            same = (original.present[joint] and pose.present[joint]
                    and np.allclose(pose.keypoints[joint], original.keypoints[joint]))
            pose.world[joint] = original.world[joint] if same else np.nan
        self.update()

    def canvas_rect(self) -> QRectF:
        """Where the pose's canvas lies in the widget."""
        scale, left, top = self._fit()
        width, height = self._canvas_size()
        return QRectF(left, top, width * scale, height * scale)

    def caption_rect(self) -> QRectF:
        """Where the caption is drawn: the strip above the pose's canvas, as wide as the widget allows
        (empty without a caption)."""
        strip = self._caption_strip()
        line = max(strip - CAPTION_GAP, 0)
        return QRectF(MARGIN, self.canvas_rect().top() - strip, self.width() - 2 * MARGIN, line)

    def to_widget(self, xy: tuple[float, float]) -> QPointF:
        """Pose pixels -> widget coordinates."""
        scale, left, top = self._fit()
        return QPointF(left + xy[0] * scale, top + xy[1] * scale)

    def to_pose(self, point: QPointF) -> tuple[float, float]:
        """Widget coordinates -> pose pixels."""
        scale, left, top = self._fit()
        return (point.x() - left) / scale, (point.y() - top) / scale

    def joint_position(self, joint: int) -> QPointF:
        """Where `joint` is drawn: its place on the canvas, or its parking slot when missing."""
        if self._pose.present[joint] and np.isfinite(self._pose.keypoints[joint]).all():
            return self.to_widget(self._pose.keypoints[joint])
        slot = [j for j in range(len(COCO18_JOINTS)) if not self._is_placed(j)].index(joint)
        rect = self.canvas_rect()
        return QPointF(rect.right() - 12, rect.top() + 12 + slot * _SLOT_SPACING)

    def joint_at(self, point: QPointF) -> int | None:
        """The joint drawn nearest `point`, within PICK_RADIUS."""
        if self._pose is None:
            return None
        best, best_distance = None, float(PICK_RADIUS)
        for joint in range(len(COCO18_JOINTS)):
            p = self.joint_position(joint)
            distance = math.hypot(p.x() - point.x(), p.y() - point.y())
            if distance <= best_distance:
                best, best_distance = joint, distance
        return best

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    # ---- events --------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._pose is None:
            super().mousePressEvent(event)
            return
        joint = self.joint_at(event.position())
        self._active = joint
        if joint is not None:
            self._drag_joint, self._press, self._moved = joint, event.position(), False
            self._drag_was_missing = not self._is_placed(joint)
            self._drag_old = ((math.nan, math.nan) if self._drag_was_missing
                              else tuple(float(v) for v in self._pose.keypoints[joint]))
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self.update()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        point = event.position()
        if self._drag_joint is None:
            hover = self.joint_at(point)
            if hover != self._hover:
                self._hover = hover
                self.setCursor(Qt.CursorShape.OpenHandCursor if hover is not None else Qt.CursorShape.ArrowCursor)
                self.update()
            return
        if not self._moved and math.hypot(point.x() - self._press.x(), point.y() - self._press.y()) < DRAG_THRESHOLD:
            return
        self._moved = True
        self.move_joint(self._drag_joint, self._clamped(self.to_pose(point)))  # shown live, emitted on release
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        joint, self._drag_joint = self._drag_joint, None
        if joint is None:
            super().mouseReleaseEvent(event)
            return
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        if self._moved:
            new = self._clamped(self.to_pose(event.position()))
            self.move_joint(joint, new)
            if new != self._drag_old:
                self.joint_moved.emit(joint, self._drag_old, new)
        self.update()
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        joint = self._active
        if (event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and joint is not None
                and self._drag_joint is None and self._is_placed(joint)):
            old = tuple(float(v) for v in self._pose.keypoints[joint])
            self.move_joint(joint, (math.nan, math.nan))
            self.joint_moved.emit(joint, old, (math.nan, math.nan))
            event.accept()
            return
        super().keyPressEvent(event)

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._accept_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._accept_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        found = dropped_file(self._local_paths(event))
        if found is None:
            event.ignore()
            return
        event.acceptProposedAction()
        kind, path = found
        (self.image_dropped if kind == "image" else self.pose_file_dropped).emit(path)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _BACKGROUND)
        rect = self.canvas_rect()
        painter.fillRect(rect, QColor(0, 0, 0))
        if self._background is not None and not self._background.isNull():
            painter.setOpacity(0.45)
            painter.drawImage(rect, self._background)
            painter.setOpacity(1.0)
        painter.setPen(QPen(_CANVAS_EDGE, 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        if self._pose is None:
            painter.setPen(_HINT)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "Drop a photo or a pose .json file here")
        else:
            self._paint_pose(painter)
        if self.hasFocus():
            painter.setPen(QPen(_FOCUS, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        painter.end()

    # ---- internals -----------------------------------------------------------------------------

    def _canvas_size(self) -> tuple[int, int]:
        return self._pose.canvas if self._pose is not None else (512, 512)

    def _fit(self) -> tuple[float, float, float]:
        """(scale, left, top): widget = (left + x * scale, top + y * scale) for pose pixels (x, y)."""
        width, height = self._canvas_size()
        strip = self._caption_strip()
        scale = max(min((self.width() - 2 * MARGIN) / width, (self.height() - 2 * MARGIN - strip) / height), 1e-6)
        return scale, (self.width() - width * scale) / 2, strip + (self.height() - strip - height * scale) / 2

    def _caption_strip(self) -> int:
        """Widget pixels above the pose's canvas kept for the caption: its line and a gap."""
        return self.fontMetrics().height() + 2 + CAPTION_GAP if self._caption else 0

    def _is_placed(self, joint: int) -> bool:
        return bool(self._pose.present[joint] and np.isfinite(self._pose.keypoints[joint]).all())

    def _edited(self) -> bool:
        pose, original = self._pose, self._original
        if not np.array_equal(pose.present, original.present):
            return True
        present = pose.present
        return not np.array_equal(pose.keypoints[present], original.keypoints[present])

    def _clamped(self, xy: tuple[float, float]) -> tuple[float, float]:
        width, height = self._canvas_size()
        return float(min(max(xy[0], 0.0), width)), float(min(max(xy[1], 0.0), height))

    @staticmethod
    def _local_paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        mime = event.mimeData()
        if mime is None or not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

    def _accept_drag(self, event: QDragEnterEvent | QDragMoveEvent) -> None:
        if dropped_file(self._local_paths(event)) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def _paint_pose(self, painter: QPainter) -> None:
        pose = self._pose
        scale = self._fit()[0]
        placed = [self._is_placed(j) for j in range(len(COCO18_JOINTS))]
        points = [self.joint_position(j) for j in range(len(COCO18_JOINTS))]
        width = max(3.0, 2 * STICK_HALF_WIDTH * scale)
        for limb, (a, b) in enumerate(COCO18_LIMBS):
            if placed[a] and placed[b]:
                pen = QPen(_qcolor(limb_colour(limb)), width)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                painter.setPen(pen)
                painter.drawLine(points[a], points[b])
        radius = max(4.0, JOINT_RADIUS * scale * 1.2)
        for joint in range(len(COCO18_JOINTS)):
            point = points[joint]
            if placed[joint]:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(_qcolor(OPENPOSE_COLOURS[joint]))
            else:
                painter.setPen(QPen(_MISSING, 1.5, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(point, radius, radius)
            if joint in (self._hover, self._drag_joint, self._active) and (placed[joint] or joint == self._hover):
                painter.setPen(QPen(QColor(255, 255, 255), 1.5))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawEllipse(point, radius + 3, radius + 3)
            if not placed[joint] or joint in (self._hover, self._drag_joint):
                painter.setPen(_MISSING if not placed[joint] else _TEXT)
                name = COCO18_JOINTS[joint].replace("_", " ")
                if placed[joint]:
                    painter.drawText(point + QPointF(radius + 5, -radius - 2), name)
                else:  # parked on the right edge: the name to its left
                    box = QRectF(point.x() - radius - 150, point.y() - 9, 144, 18)
                    painter.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
        if self._caption:
            box = self.caption_rect()
            painter.setPen(_TEXT)
            text = self.fontMetrics().elidedText(self._caption, Qt.TextElideMode.ElideRight, int(box.width()))
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        if pose.source.get("file"):
            painter.setPen(_HINT)
            painter.drawText(self.canvas_rect().adjusted(6, 4, -6, -4),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, Path(pose.source["file"]).name)


class LiftedPoseView(QWidget):
    """A 3D key pose seen from the front and from the figure's left side, side by side."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._pose: KeyPose3D | None = None
        self.setMinimumSize(140, 80)

    def set_pose(self, pose: KeyPose3D | None) -> None:
        self._pose = pose
        self.update()

    def pose(self) -> KeyPose3D | None:
        return self._pose

    def sizeHint(self) -> QSize:
        return QSize(360, 220)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _BACKGROUND)
        if self._pose is None:
            painter.setPen(_HINT)
            painter.drawText(QRectF(self.rect()), Qt.AlignmentFlag.AlignCenter, "No 3D key pose yet")
            painter.end()
            return
        joints = self._pose.joints  # (22, 3) metres, Y up, facing +Z
        views = (("front", project(joints, **FRONT_VIEW)),  # (22, 2): u right, v up
                 ("side", project(joints, azimuth_deg=90.0, elevation_deg=0.0)))
        both = np.concatenate([points for _, points in views])
        finite = both[np.isfinite(both).all(axis=1)]
        span = float((finite.max(axis=0) - finite.min(axis=0)).max()) if len(finite) else 1.0
        panel_width, caption = self.width() / 2, 18
        scale = 0.8 * min(panel_width, self.height() - caption) / max(span, 1.0)  # pixels per metre, shared
        for i, (name, points) in enumerate(views):
            box = QRectF(i * panel_width, caption, panel_width, self.height() - caption)
            painter.setPen(_TEXT)
            painter.drawText(QRectF(i * panel_width + 6, 2, panel_width - 12, caption),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            self._paint_figure(painter, points, scale, box)
        painter.setPen(QPen(_CANVAS_EDGE, 1))
        painter.drawLine(QPointF(panel_width, 4), QPointF(panel_width, self.height() - 4))
        painter.end()

    @staticmethod
    def _paint_figure(painter: QPainter, points: np.ndarray, scale: float, box: QRectF) -> None:
        """points: (22, 2) projected, metres, v up; drawn centred in box."""
        finite = np.isfinite(points).all(axis=1)
        if not finite.any():
            return
        middle = (points[finite].max(axis=0) + points[finite].min(axis=0)) / 2
        centre = box.center()
        pixels = [QPointF(centre.x() + (u - middle[0]) * scale, centre.y() - (v - middle[1]) * scale)
                  for u, v in points]
        ground = centre.y() - (points[finite, 1].min() - middle[1]) * scale
        painter.setPen(QPen(_CANVAS_EDGE, 1))
        painter.drawLine(QPointF(box.left() + 8, ground), QPointF(box.right() - 8, ground))
        sides = joint_sides()
        width = max(2.0, scale * 0.025)
        for child, parent in enumerate(HUMANML3D_SKELETON.parents):
            if parent >= 0 and finite[child] and finite[parent]:
                pen = QPen(QColor.fromRgbF(*side_colour(sides[child])), width)
                pen.setCapStyle(Qt.PenCapStyle.RoundCap)
                painter.setPen(pen)
                painter.drawLine(pixels[parent], pixels[child])
        painter.setPen(Qt.PenStyle.NoPen)
        for joint in np.flatnonzero(finite):
            painter.setBrush(QColor.fromRgbF(*side_colour(sides[joint])))
            painter.drawEllipse(pixels[joint], width * 0.9, width * 0.9)
        head = HUMANML3D_SKELETON.index("head")
        if finite[head]:
            painter.setPen(QPen(QColor.fromRgbF(*side_colour("centre")), 1.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            radius = max(4.0, scale * 0.08)
            painter.drawEllipse(pixels[head], radius, radius)
