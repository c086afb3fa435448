"""The dope sheet under the 3D view (the play/pause controls beside it are studio/playback.py).

`Timeline` is painted with QPainter: a ruler of frame numbers on top (ticks that adapt to the
zoom), key pose markers (diamonds, each with its hold as a bar after it and its ease as shaded
ramps either side) and keep spans (shaded ranges) in the track below, stale
stretches (hatched: motion being re-solved after a key edit) across the track, and the playhead
across both with its frame number on the ruler. It never changes the project itself: it emits
what the user asked for, and the owner answers with the setters (`set_keys`, `set_keep_spans`,
...). A marker or span-edge drag is shown live but emitted once, on release, so that one drag is
one undo step.

Frames are integers from 0 to length - 1 (the frame numbers the command line's `pose.json@30`
uses); every drag snaps to whole frames. Keep spans are half-open frame ranges [first, last), as
`core.generation.editing` takes them, kept sorted and merged.

The view: Ctrl + wheel anywhere, or the plain wheel over the ruler, zooms about the frame under
the mouse (from the whole motion down to MAX_PIXELS_PER_FRAME pixels a frame); Shift + wheel or a
middle drag pans; Home or a double click on the ruler shows the whole motion again.

Mouse: left click or drag scrubs; left press on a marker selects it and dragging moves it; a drag
on a keep span's edge moves that edge; right drag or shift + left drag paints a keep span (holding
Ctrl as well erases instead); a right click opens a menu (key the current pose, add the drawing as a key, a
key's Set frame/hold/ease… and delete, remove or clear keep spans); a double click on a marker
opens Set frame… (KeyValueEditor: Enter applies, a refused value is one sentence under it).
Keys: I or K key the current pose at the playhead (`pose_key_requested`), Shift+I or Shift+K add the
2D drawing as a key there (`key_add_requested`), Delete/Backspace asks to delete the selected key,
Left/Right step a frame (with Shift, a second), Up/Down jump to the next/previous key (the window's
rule), Ctrl+Home/End jump to the ends, Home fits the view, Escape deselects (in the studio window, its
window-wide keys answer I, K, Shift+I, Shift+K, Left/Right and Up/Down first, to the same effect).
With the keyboard focus, it draws a focus ring.
"""

import math

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import (
    QBrush,
    QColor,
    QContextMenuEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PyQt6.QtWidgets import QMenu, QWidget

from keymask.studio.key_value_editor import KeyValueEditor

RULER_HEIGHT = 22  # pixels
MARGIN = 12  # pixels left and right of frames 0 and length - 1, so that edge markers show whole
MARKER_HALF = 6  # half the diagonal of a key marker, pixels
HIT_RADIUS = 8  # how near (pixels) a press must be to a marker to take it
DRAG_THRESHOLD = 3  # pixels a press must move before it counts as a drag
EDGE_RADIUS = 5  # how near (pixels) a press must be to a keep span's edge to take it
HOLD_HALF = 2  # half the height of a hold bar, pixels
LABEL_SPACING = 36  # fewest pixels between two frame numbers on the ruler
MINOR_SPACING = 5  # fewest pixels between two minor ticks
MAX_PIXELS_PER_FRAME = 40  # the closest zoom
MIN_VISIBLE_FRAMES = 4  # ... and never fewer frames than this across the view
ZOOM_STEP = 1.25  # zoom per wheel notch
MAX_EASE_SECONDS = 3  # the longest ease that can be typed

_BACKGROUND = QColor(35, 37, 41)
_RULER = QColor(46, 49, 54)
_TICK = QColor(140, 144, 150)
_TEXT = QColor(200, 203, 208)
_SPAN = QColor(90, 180, 120, 90)
_SPAN_EDGE = QColor(110, 210, 140)
_SPAN_PAINTING = QColor(90, 180, 120, 150)
_SPAN_ERASING = QColor(220, 90, 90, 110)
_MARKER = QColor(255, 170, 60)
_MARKER_SELECTED = QColor(255, 226, 140)
PLAYHEAD_COLOUR = QColor(235, 72, 72)
HOLD_COLOUR = QColor(255, 200, 110)  # the bar after a key for its hold
EASE_COLOUR = QColor(255, 170, 60, 70)  # the ramps either side of a key for its ease
STALE_COLOUR = QColor(214, 110, 255)  # the hatching of stretches being re-solved
_FOCUS = QColor(61, 157, 243)  # the window's focus ring colour


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open spans sorted, empty ones dropped, overlapping or touching ones merged."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted((int(a), int(b)) for a, b in spans if int(b) > int(a)):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def subtract_span(spans: list[tuple[int, int]], cut: tuple[int, int]) -> list[tuple[int, int]]:
    """Half-open spans with the frames of `cut` removed."""
    out = []
    for first, last in spans:
        out += [(first, min(last, cut[0])), (max(first, cut[1]), last)]
    return merge_spans(out)


class Timeline(QWidget):
    frame_changed = pyqtSignal(int)  # the user scrubbed to this frame
    key_selected = pyqtSignal(int)  # index into the keys; -1 when Escape clears the selection
    key_moved = pyqtSignal(int, int)  # (index, new frame), once per drag or typed frame
    key_delete_requested = pyqtSignal(int)  # index
    key_add_requested = pyqtSignal(int)  # frame (the playhead's): add the 2D drawing as a key there
    key_timing_requested = pyqtSignal(int, int, int)  # (index, hold frames, ease frames) typed for a key
    pose_key_requested = pyqtSignal(int)  # frame: key the motion's pose there ("Key the current pose")
    keep_spans_changed = pyqtSignal(list)  # list[tuple[int, int]], half-open, sorted, merged

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._length = 1
        self._fps = 20
        self._frame = 0
        self._keys: list[int] = []
        self._timing: list[tuple[int, int]] = []  # (hold, ease) frames per key
        self._selected: int | None = None
        self._spans: list[tuple[int, int]] = []
        self._stale: list[tuple[int, int]] = []
        self._view_first = 0.0  # the frame at the left of the usable width
        self._view_span = 1.0  # frames across the usable width
        # What a button is doing: None, "scrub", "key", "span", "edge" or "pan" (with the fields below).
        self._drag: str | None = None
        self._press_x = 0.0
        self._moved = False
        self._drag_key = 0
        self._drag_frame = 0
        self._span_anchor = 0
        self._span_button = Qt.MouseButton.NoButton
        self._span_erase = False
        self._edge: tuple[int, int] = (0, 0)  # (span index, 0 for its first frame or 1 for its last)
        self._pan_first = 0.0
        self.editor: KeyValueEditor | None = None  # the open "Set frame/hold/ease" input, if any
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right press/release come to us
        self.setMouseTracking(True)
        self.setMinimumHeight(RULER_HEIGHT + 2 * MARKER_HALF + 20)

    # ---- public API ----------------------------------------------------------------------------

    @property
    def length(self) -> int:
        return self._length

    @property
    def fps(self) -> int:
        return self._fps

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def keys(self) -> list[int]:
        return list(self._keys)

    @property
    def key_timing(self) -> list[tuple[int, int]]:
        """(hold, ease) frames of each key, as the owner set them."""
        return list(self._timing)

    @property
    def selected_key(self) -> int | None:
        return self._selected

    @property
    def keep_spans(self) -> list[tuple[int, int]]:
        return list(self._spans)

    @property
    def stale_spans(self) -> list[tuple[int, int]]:
        return list(self._stale)

    @property
    def visible_frames(self) -> tuple[float, float]:
        """(first, last) frames at the left and right ends of the usable width."""
        return self._view_first, self._view_first + self._view_span

    @property
    def pixels_per_frame(self) -> float:
        return self._usable() / self._view_span

    def set_length(self, frames: int, fps: int = 20) -> None:
        changed = max(1, int(frames)) != self._length
        self._length = max(1, int(frames))
        self._fps = max(1, int(fps))
        self._frame = min(self._frame, self._length - 1)
        if changed:
            self.fit_all()
        self.update()

    def set_frame(self, frame: int) -> None:
        """Move the playhead (emits nothing)."""
        self._frame = self._clamp(frame)
        self.update()

    def set_keys(self, frames: list[int], timing: list[tuple[int, int]] | None = None) -> None:
        """Key pose frames; marker i is keys[i] (the order is the owner's). `timing`: (hold, ease)
        frames per key, drawn as a bar after the marker and a ramp either side (None: no hold, no ease)."""
        self._keys = [int(f) for f in frames]
        self._timing = [(int(h), int(e)) for h, e in timing] if timing is not None else [(0, 0)] * len(self._keys)
        if len(self._timing) != len(self._keys):
            raise ValueError(f"{len(self._keys)} keys but {len(self._timing)} timings.")
        if self._selected is not None and self._selected >= len(self._keys):
            self._selected = None
        if self._drag == "key":  # the keys changed under a drag: drop it
            self._drag = None
        self.update()

    def set_selected_key(self, index: int | None) -> None:
        self._selected = index if index is not None and 0 <= index < len(self._keys) else None
        self.update()

    def set_keep_spans(self, spans: list[tuple[int, int]]) -> None:
        self._spans = merge_spans(spans)
        if self._drag == "edge":
            self._drag = None
        self.update()

    def set_stale_spans(self, spans: list[tuple[int, int]]) -> None:
        """Stretches whose motion is out of date (being re-solved), drawn hatched until cleared."""
        self._stale = merge_spans(spans)
        self.update()

    # ---- the view ------------------------------------------------------------------------------

    def fit_all(self) -> None:
        """Show the whole motion."""
        self._view_first, self._view_span = 0.0, self._full_span()
        self.update()

    def zoom(self, factor: float, at_x: float | None = None) -> None:
        """Zoom in (factor > 1) or out about widget x `at_x` (default: the middle): the frame under
        it stays under it. From the whole motion to MAX_PIXELS_PER_FRAME pixels a frame."""
        at_x = self.width() / 2 if at_x is None else at_x
        anchor = self._frame_float(at_x)
        span = min(max(self._view_span / factor, self._min_span()), self._full_span())
        self._view_span = span
        self._set_first(anchor - (at_x - MARGIN) / self._usable() * span)

    def pan(self, frames: float) -> None:
        """Move the view `frames` to the right (negative: to the left), within the motion."""
        self._set_first(self._view_first + frames)

    def ruler_ticks(self) -> tuple[list[int], list[int]]:
        """(labelled frames, minor tick frames) the ruler draws in the view: labels at least
        LABEL_SPACING pixels apart on a 1-2-5 step, minor ticks between them."""
        ppf = self.pixels_per_frame
        step = next(s for s in _frame_steps() if s * ppf >= LABEL_SPACING)
        minor = next((m for m in (step // 5, step // 2) if m >= 1 and step % m == 0 and m * ppf >= MINOR_SPACING),
                     step)
        first, last = self.visible_frames
        lo, hi = max(0, math.floor(first - MARGIN / ppf)), min(self._length - 1, math.ceil(last + MARGIN / ppf))
        labels = list(range(-(-lo // step) * step, hi + 1, step))
        minors = [f for f in range(-(-lo // minor) * minor, hi + 1, minor) if f % step]
        return labels, minors

    # ---- geometry ------------------------------------------------------------------------------

    def x_of(self, frame: float) -> float:
        """Widget x of a frame."""
        return MARGIN + (frame - self._view_first) / self._view_span * self._usable()

    def frame_at(self, x: float) -> int:
        """The whole frame nearest widget x, within the length."""
        return self._clamp(round(self._frame_float(x)))

    def marker_at(self, point: QPointF) -> int | None:
        """Index of the key marker under a widget point (the nearest; the selected one on a tie): within
        HIT_RADIUS across, and up and down, of the markers' row (above and below it, span edges can be taken)."""
        if abs(point.y() - self._marker_y()) > HIT_RADIUS + 2:
            return None
        best, best_distance = None, HIT_RADIUS + 0.5
        for index, frame in enumerate(self._keys):
            distance = abs(self.x_of(self._shown_key_frame(index)) - point.x())
            if distance < best_distance or (distance == best_distance and index == self._selected):
                best, best_distance = index, distance
        return best

    def marker_centre(self, index: int) -> QPointF:
        return QPointF(self.x_of(self._shown_key_frame(index)), self._marker_y())

    def span_edge_x(self, index: int, end: int) -> float:
        """Widget x of keep span `index`'s left (end 0) or right (end 1) edge."""
        first, last = self._spans[index]
        half = self.pixels_per_frame / 2
        return self.x_of(first) - half if end == 0 else self.x_of(last - 1) + half

    def edge_at(self, point: QPointF) -> tuple[int, int] | None:
        """(span index, 0 left / 1 right) of the keep span edge under a point in the track, if any."""
        if point.y() < RULER_HEIGHT:
            return None
        best, best_distance = None, EDGE_RADIUS + 0.5
        for index in range(len(self._spans)):
            for end in (0, 1):
                distance = abs(self.span_edge_x(index, end) - point.x())
                if distance < best_distance:
                    best, best_distance = (index, end), distance
        return best

    def context_menu(self, point: QPointF) -> QMenu:
        """The menu a right click at `point` opens (built, not shown)."""
        menu = QMenu(self)
        current = menu.addAction(f"Key the current pose (frame {self._frame})\tI, K")
        current.triggered.connect(lambda: self.pose_key_requested.emit(self._frame))
        add = menu.addAction(f"Add the 2D drawing as a key (frame {self._frame})\tShift+K")
        add.triggered.connect(lambda: self.key_add_requested.emit(self._frame))
        marker = self.marker_at(point)
        if marker is not None:
            menu.addSeparator()
            hold, ease = self._timing[marker]
            for text, field in ((f"Set frame… ({self._keys[marker]})", "frame"),
                                (f"Set hold… ({hold} frames)", "hold"),
                                (f"Set ease… ({ease} frames)", "ease")):
                action = menu.addAction(text)
                action.triggered.connect(lambda _=False, f=field: self.edit_key(marker, f))
            delete = menu.addAction(f"Delete key pose {marker + 1}")
            delete.triggered.connect(lambda: self.key_delete_requested.emit(marker))
        frame = self.frame_at(point.x())
        span = next((s for s in self._spans if s[0] <= frame < s[1]), None)
        if span is not None or self._spans:
            menu.addSeparator()
        if span is not None:
            remove = menu.addAction(f"Remove keep span, frames {span[0]} - {span[1] - 1}")
            remove.triggered.connect(lambda: self._set_spans(subtract_span(self._spans, span)))
        if self._spans:
            clear = menu.addAction("Clear keep spans")
            clear.triggered.connect(lambda: self._set_spans([]))
        return menu

    def edit_key(self, index: int, field: str = "frame") -> "KeyValueEditor":
        """Open the small input for key `index`'s frame, hold or ease (frames, or seconds written 0.5s);
        Enter applies it (key_moved or key_timing_requested), Escape closes it."""
        if self.editor is not None:
            self.editor.close()
        self._selected = index
        self.key_selected.emit(index)
        self.editor = KeyValueEditor(self, index, field)
        centre = self.mapToGlobal(self.marker_centre(index).toPoint())
        self.editor.move(centre.x() - self.editor.sizeHint().width() // 2, centre.y() + MARKER_HALF + 4)
        self.editor.show()
        self.editor.field_edit.setFocus()
        self.update()
        return self.editor

    def check_value(self, index: int, field: str, value: int) -> str | None:
        """One sentence saying why key `index` cannot take `value` frames as its frame, hold or ease;
        None when it can."""
        last = self._length - 1
        frame = self._keys[index]
        if field == "frame":
            if not 0 <= value <= last:
                return f"Frame {value} is outside the motion: type a frame from 0 to {last}."
            other = next((i for i, f in enumerate(self._keys) if f == value and i != index), None)
            if other is not None:
                return f"Frame {value} already has key pose {other + 1}: choose a free frame."
            return None
        if value < 0:
            return f"A {field} cannot be negative: type 0 or more frames."
        if field == "hold":
            later = [(f, i) for i, f in enumerate(self._keys) if f > frame]
            if frame + value > last:
                return (f"A hold of {value} frames runs past the motion's last frame, {last}: "
                        f"hold at most {last - frame}.")
            if later and frame + value >= min(later)[0]:
                f, i = min(later)
                return (f"A hold of {value} frames reaches key pose {i + 1} at frame {f}: "
                        f"hold at most {f - frame - 1}.")
            return None
        longest = MAX_EASE_SECONDS * self._fps
        if value > longest:
            return f"An ease of {value} frames is longer than {MAX_EASE_SECONDS} s: type at most {longest}."
        return None

    def apply_value(self, index: int, field: str, value: int) -> None:
        """Emit the edit of a checked value: a frame as key_moved (the same path as a drag)."""
        if field == "frame":
            if value != self._keys[index]:
                self._keys[index] = value  # shown at once; the owner's set_keys has the last word
                self.key_moved.emit(index, value)
        else:
            hold, ease = self._timing[index]
            hold, ease = (value, ease) if field == "hold" else (hold, value)
            if (hold, ease) != self._timing[index]:
                self.key_timing_requested.emit(index, hold, ease)
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(640, 72)

    # ---- events --------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point, button = event.position(), event.button()
        self._press_x, self._moved = point.x(), False
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.MiddleButton:
            self._drag, self._pan_first = "pan", self._view_first
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and shift):
            self._drag, self._span_button = "span", button
            self._span_erase = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self._span_anchor = self._drag_frame = self.frame_at(point.x())
        elif button == Qt.MouseButton.LeftButton:
            marker, edge = self.marker_at(point), self.edge_at(point)
            if marker is not None:
                self._drag, self._drag_key, self._drag_frame = "key", marker, self._keys[marker]
                self._selected = marker
                self.key_selected.emit(marker)
            elif edge is not None:
                self._drag, self._edge = "edge", edge
                first, last = self._spans[edge[0]]
                self._drag_frame = first if edge[1] == 0 else last - 1
            else:
                self._drag = "scrub"
                self._scrub_to(self.frame_at(point.x()), always=True)
        else:
            super().mousePressEvent(event)
            return
        self.update()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        point = event.position()
        if event.button() != Qt.MouseButton.LeftButton:
            super().mouseDoubleClickEvent(event)
            return
        marker = self.marker_at(point)
        if point.y() < RULER_HEIGHT:
            self.fit_all()
        elif marker is not None:
            self.edit_key(marker, "frame")
        else:
            self.mousePressEvent(event)
            return
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag is None:
            if self.marker_at(event.position()) is not None:
                self.setCursor(Qt.CursorShape.SizeHorCursor)
            elif self.edge_at(event.position()) is not None:
                self.setCursor(Qt.CursorShape.SplitHCursor)
            else:
                self.setCursor(Qt.CursorShape.ArrowCursor)
            return
        self._moved = self._moved or abs(x - self._press_x) >= DRAG_THRESHOLD
        if self._drag == "scrub":
            self._scrub_to(self.frame_at(x))
        elif self._drag == "pan":
            self._set_first(self._pan_first - (x - self._press_x) / self.pixels_per_frame)
        elif self._drag in ("span", "edge") or (self._drag == "key" and self._moved):
            self._drag_frame = self.frame_at(x)
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, self._drag = self._drag, None
        self._moved = self._moved or abs(event.position().x() - self._press_x) >= DRAG_THRESHOLD
        if drag in ("key", "edge") and self._moved:
            self._drag_frame = self.frame_at(event.position().x())  # where the button went up
        if drag == "key":
            index, frame = self._drag_key, self._drag_frame
            if self._moved and frame != self._keys[index]:
                self._keys[index] = frame  # shown at once; the owner's set_keys has the last word
                self.key_moved.emit(index, frame)
        elif drag == "edge":
            if self._moved:
                self._set_spans(self._edge_dragged())
        elif drag == "pan":
            self.setCursor(Qt.CursorShape.ArrowCursor)
        elif drag == "span":
            if self._moved:
                first, last = sorted((self._span_anchor, self.frame_at(event.position().x())))
                if self._span_erase:
                    self._set_spans(subtract_span(self._spans, (first, last + 1)))
                else:
                    self._set_spans(merge_spans(self._spans + [(first, last + 1)]))
            elif self._span_button == Qt.MouseButton.RightButton:
                self.update()
                self.context_menu(event.position()).exec(event.globalPosition().toPoint())
        self.update()
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl + wheel, or the wheel over the ruler, zooms about the mouse; Shift + wheel (or a
        sideways wheel) pans."""
        delta = event.angleDelta()
        modifiers = event.modifiers()
        steps = (delta.y() or delta.x()) / 120  # notches, positive away from the user
        if modifiers & Qt.KeyboardModifier.ShiftModifier or (delta.y() == 0 and delta.x() != 0):
            self.pan(-steps * self._view_span / 10)
        elif modifiers & Qt.KeyboardModifier.ControlModifier or event.position().y() < RULER_HEIGHT:
            self.zoom(ZOOM_STEP ** steps, event.position().x())
        else:
            event.ignore()
            return
        event.accept()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # from the keyboard's menu key
        point = QPointF(self.x_of(self._frame), self._marker_y())
        self.context_menu(point).exec(event.globalPos())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._selected is not None:
            self.key_delete_requested.emit(self._selected)
        elif key in (Qt.Key.Key_I, Qt.Key.Key_K) and shift:
            self.key_add_requested.emit(self._frame)
        elif key in (Qt.Key.Key_I, Qt.Key.Key_K):
            self.pose_key_requested.emit(self._frame)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = (self._fps if shift else 1) * (1 if key == Qt.Key.Key_Right else -1)
            self._scrub_to(self._frame + step)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.jump_to_key(1 if key == Qt.Key.Key_Up else -1)
        elif key == Qt.Key.Key_Home and not ctrl:
            self.fit_all()
        elif key == Qt.Key.Key_Home:
            self._scrub_to(0)
        elif key == Qt.Key.Key_End:
            self._scrub_to(self._length - 1)
        elif key == Qt.Key.Key_Escape and self._selected is not None:
            self._selected = None
            self.key_selected.emit(-1)
            self.update()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def jump_to_key(self, direction: int) -> None:
        """To the next key after the playhead (direction 1) or the previous one before it (-1), and
        select it: the window's Up/Down rule."""
        ahead = [(f, i) for i, f in enumerate(self._keys) if (f - self._frame) * direction > 0]
        if ahead:
            frame, index = min(ahead) if direction > 0 else max(ahead)
            self._scrub_to(frame)
            self._selected = index
            self.key_selected.emit(index)
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _BACKGROUND)
        painter.fillRect(QRectF(0, 0, self.width(), RULER_HEIGHT), _RULER)
        self._paint_ruler(painter)
        track = self._track_rect()
        for first, last in self._spans:
            self._paint_span(painter, track, first, last, _SPAN, edges=True)
        if self._drag == "edge" and self._moved:
            for first, last in self._edge_dragged():
                self._paint_span(painter, track, first, last, _SPAN_PAINTING, edges=True)
        for first, last in self._stale:
            self._paint_stale(painter, track, first, last)
        if self._drag == "span" and self._moved:
            first, last = sorted((self._span_anchor, self._drag_frame))
            colour = _SPAN_ERASING if self._span_erase else _SPAN_PAINTING
            self._paint_span(painter, track, first, last + 1, colour, edges=False)
        for index in range(len(self._keys)):
            self._paint_timing(painter, track, index)
        for index in range(len(self._keys)):
            if index != self._selected:
                self._paint_marker(painter, index)
        if self._selected is not None:
            self._paint_marker(painter, self._selected)  # on top of any neighbour
        self._paint_playhead(painter)
        if self.hasFocus():
            painter.setPen(QPen(_FOCUS, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        painter.end()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._set_first(self._view_first)  # the zoom limit depends on the width

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()  # the focus ring

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    # ---- internals -----------------------------------------------------------------------------

    def _clamp(self, frame: float) -> int:
        return max(0, min(int(frame), self._length - 1))

    def _usable(self) -> float:
        return max(self.width() - 2 * MARGIN, 1)

    def _full_span(self) -> float:
        return float(max(self._length - 1, 1))

    def _min_span(self) -> float:
        return min(self._full_span(), max(MIN_VISIBLE_FRAMES, self._usable() / MAX_PIXELS_PER_FRAME))

    def _set_first(self, first: float) -> None:
        self._view_span = min(max(self._view_span, self._min_span()), self._full_span())
        self._view_first = min(max(first, 0.0), self._full_span() - self._view_span)
        self.update()

    def _frame_float(self, x: float) -> float:
        return self._view_first + (x - MARGIN) / self._usable() * self._view_span

    def _track_rect(self) -> QRectF:
        return QRectF(0, RULER_HEIGHT, self.width(), self.height() - RULER_HEIGHT)

    def _marker_y(self) -> float:
        return self._track_rect().center().y()

    def _shown_key_frame(self, index: int) -> int:
        dragging = self._drag == "key" and self._moved and index == self._drag_key
        return self._drag_frame if dragging else self._keys[index]

    def _edge_dragged(self) -> list[tuple[int, int]]:
        """The keep spans with the dragged edge at the mouse's frame (a span keeps at least one frame)."""
        index, end = self._edge
        first, last = self._spans[index]
        if end == 0:
            first = min(self._drag_frame, last - 1)
        else:
            last = max(self._drag_frame, first) + 1
        others = [s for i, s in enumerate(self._spans) if i != index]
        return merge_spans(others + [(first, last)])

    def _scrub_to(self, frame: int, *, always: bool = False) -> None:
        frame = self._clamp(frame)
        if frame != self._frame or always:
            self._frame = frame
            self.frame_changed.emit(frame)
            self.update()

    def _set_spans(self, spans: list[tuple[int, int]]) -> None:
        self._spans = merge_spans(spans)
        self.keep_spans_changed.emit(list(self._spans))
        self.update()

    def _paint_ruler(self, painter: QPainter) -> None:
        labels, minors = self.ruler_ticks()
        painter.setPen(QPen(_TICK, 1))
        for frame in minors:
            x = self.x_of(frame)
            painter.drawLine(QPointF(x, RULER_HEIGHT - 4), QPointF(x, RULER_HEIGHT))
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        for frame in labels:
            x = self.x_of(frame)
            painter.setPen(QPen(_TICK, 1))
            painter.drawLine(QPointF(x, RULER_HEIGHT - 9), QPointF(x, RULER_HEIGHT))
            painter.setPen(_TEXT)
            painter.drawText(QRectF(x + 3, 1, LABEL_SPACING, RULER_HEIGHT - 8), Qt.AlignmentFlag.AlignLeft, str(frame))

    def _paint_span(self, painter: QPainter, track: QRectF, first: int, last: int, colour: QColor, *,
                    edges: bool) -> None:
        half = self.pixels_per_frame / 2
        left, right = self.x_of(first) - half, self.x_of(last - 1) + half  # [first, last) covers whole frames
        rect = QRectF(left, track.top() + 2, max(right - left, 2.0), track.height() - 4)
        painter.fillRect(rect, colour)
        if edges:
            painter.setPen(QPen(_SPAN_EDGE, 2))
            painter.drawLine(rect.topLeft(), rect.bottomLeft())
            painter.drawLine(rect.topRight(), rect.bottomRight())

    def _paint_stale(self, painter: QPainter, track: QRectF, first: int, last: int) -> None:
        half = self.pixels_per_frame / 2
        left, right = self.x_of(first) - half, self.x_of(last - 1) + half
        rect = QRectF(left, track.top(), max(right - left, 2.0), track.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(rect, QBrush(STALE_COLOUR, Qt.BrushStyle.BDiagPattern))
        painter.fillRect(QRectF(rect.left(), rect.bottom() - 3, rect.width(), 3), STALE_COLOUR)
        painter.restore()

    def _paint_timing(self, painter: QPainter, track: QRectF, index: int) -> None:
        """A key's ease as ramps into its frame and out of its hold, its hold as a bar after the marker."""
        frame = self._shown_key_frame(index)
        hold, ease = self._timing[index]
        y = self._marker_y()
        low = track.bottom() - 3  # the ramps rise from the track's floor to the marker's middle
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(EASE_COLOUR)
        if ease > 0:
            start, end = self.x_of(frame), self.x_of(frame + hold)
            painter.drawPolygon(QPolygonF([QPointF(self.x_of(frame - ease), low), QPointF(start, y),
                                           QPointF(start, low)]))
            painter.drawPolygon(QPolygonF([QPointF(end, low), QPointF(end, y),
                                           QPointF(self.x_of(frame + hold + ease), low)]))
            if hold > 0:
                painter.drawRect(QRectF(start, y, end - start, low - y))
        if hold > 0:
            painter.fillRect(QRectF(self.x_of(frame), y - HOLD_HALF, self.x_of(frame + hold) - self.x_of(frame),
                                    2 * HOLD_HALF), HOLD_COLOUR)
        painter.restore()

    def _paint_marker(self, painter: QPainter, index: int) -> None:
        centre = self.marker_centre(index)
        chosen = index == self._selected
        size = MARKER_HALF + (1 if chosen else 0)
        diamond = QPolygonF([centre + QPointF(0, -size), centre + QPointF(size, 0), centre + QPointF(0, size),
                             centre + QPointF(-size, 0)])
        painter.setPen(QPen(QColor(255, 255, 255) if chosen else QColor(20, 20, 20), 1.5 if chosen else 1))
        painter.setBrush(_MARKER_SELECTED if chosen else _MARKER)
        painter.drawPolygon(diamond)

    def playhead_label_rect(self) -> QRectF:
        """Where the playhead's frame number is drawn on the ruler."""
        text = str(self._frame)
        width = self.fontMetrics().horizontalAdvance(text) + 8
        x = self.x_of(self._frame)
        left = min(max(x - width / 2, 0.0), self.width() - width)
        return QRectF(left, 1, width, RULER_HEIGHT - 4)

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.x_of(self._frame)
        painter.setPen(QPen(PLAYHEAD_COLOUR, 1.5))
        painter.drawLine(QPointF(x, RULER_HEIGHT - 3), QPointF(x, self.height()))
        label = self.playhead_label_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(PLAYHEAD_COLOUR)
        painter.drawRoundedRect(label, 3, 3)
        painter.setPen(QColor(255, 255, 255))
        painter.setFont(self.font())
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, str(self._frame))


def _frame_steps():
    """1, 2, 5, 10, 20, 50, ... frames."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            yield step * scale
        scale *= 10
