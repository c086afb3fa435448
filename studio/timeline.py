"""The timeline under the 3D view, and the play/pause controls beside it.

`Timeline` is painted with QPainter: a ruler in seconds on top, key pose markers (diamonds) and
keep spans (shaded) in the track below, stale stretches (hatched: motion being re-solved after a
key edit) across the track, and the playhead across both. It never changes the
project itself: it emits what the user asked for, and the owner answers with the setters
(`set_keys`, `set_keep_spans`, ...). A marker drag is shown live but emitted once, on release,
so that one drag is one undo step.

Frames are integers from 0 to length - 1. Keep spans are half-open frame ranges [first, last),
as `core.generation.editing` takes them, kept sorted and merged.

Mouse: left click or drag scrubs; left press on a marker selects it and dragging moves it;
right drag or shift + left drag paints a keep span (holding Ctrl as well erases instead); a right
click opens a menu.
Keys: K adds a key pose at the playhead, Delete/Backspace asks to delete the selected key,
Left/Right step a frame (with Shift, a second), Home/End jump to the ends, Escape deselects
(in the studio window, its window-wide keys answer K and Left/Right first, to the same effect).
With the keyboard focus, it draws a focus ring.
"""

import math

from PyQt6.QtCore import QElapsedTimer, QPointF, QRectF, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QBrush, QColor, QContextMenuEvent, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QMenu, QPushButton, QStyle, QWidget

RULER_HEIGHT = 22  # pixels
MARGIN = 12  # pixels left and right of frames 0 and length - 1, so that edge markers show whole
MARKER_HALF = 6  # half the diagonal of a key marker, pixels
HIT_RADIUS = 8  # how near (pixels) a press must be to a marker to take it
DRAG_THRESHOLD = 3  # pixels a press must move before it counts as a drag

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
_PLAYHEAD = QColor(235, 72, 72)
STALE_COLOUR = QColor(214, 110, 255)  # the hatching of stretches being re-solved
_FOCUS = QColor(61, 157, 243)  # the window's focus ring colour
_TICK_STEPS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)  # seconds between labels


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
    key_moved = pyqtSignal(int, int)  # (index, new frame), once per drag, on release
    key_delete_requested = pyqtSignal(int)  # index
    key_add_requested = pyqtSignal(int)  # frame (the playhead's)
    keep_spans_changed = pyqtSignal(list)  # list[tuple[int, int]], half-open, sorted, merged

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._length = 1
        self._fps = 20
        self._frame = 0
        self._keys: list[int] = []
        self._selected: int | None = None
        self._spans: list[tuple[int, int]] = []
        self._stale: list[tuple[int, int]] = []
        # What the left or right button is doing: None, "scrub", "key" or "span" (with the fields below).
        self._drag: str | None = None
        self._press_x = 0.0
        self._moved = False
        self._drag_key = 0
        self._drag_frame = 0
        self._span_anchor = 0
        self._span_button = Qt.MouseButton.NoButton
        self._span_erase = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # right press/release come to us
        self.setMouseTracking(True)
        self.setMinimumHeight(RULER_HEIGHT + 2 * MARKER_HALF + 16)

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
    def selected_key(self) -> int | None:
        return self._selected

    @property
    def keep_spans(self) -> list[tuple[int, int]]:
        return list(self._spans)

    @property
    def stale_spans(self) -> list[tuple[int, int]]:
        return list(self._stale)

    def set_length(self, frames: int, fps: int = 20) -> None:
        self._length = max(1, int(frames))
        self._fps = max(1, int(fps))
        self._frame = min(self._frame, self._length - 1)
        self.update()

    def set_frame(self, frame: int) -> None:
        """Move the playhead (emits nothing)."""
        self._frame = self._clamp(frame)
        self.update()

    def set_keys(self, frames: list[int]) -> None:
        """Key pose frames; marker i is keys[i] (the order is the owner's)."""
        self._keys = [int(f) for f in frames]
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
        self.update()

    def set_stale_spans(self, spans: list[tuple[int, int]]) -> None:
        """Stretches whose motion is out of date (being re-solved), drawn hatched until cleared."""
        self._stale = merge_spans(spans)
        self.update()

    def x_of(self, frame: float) -> float:
        """Widget x of a frame."""
        usable = max(self.width() - 2 * MARGIN, 1)
        return MARGIN + frame / max(self._length - 1, 1) * usable

    def frame_at(self, x: float) -> int:
        """The frame nearest widget x, within the length."""
        usable = max(self.width() - 2 * MARGIN, 1)
        return self._clamp(round((x - MARGIN) / usable * max(self._length - 1, 1)))

    def marker_at(self, point: QPointF) -> int | None:
        """Index of the key marker under a widget point (the nearest; the selected one on a tie)."""
        if point.y() < RULER_HEIGHT:
            return None
        best, best_distance = None, HIT_RADIUS + 0.5
        for index, frame in enumerate(self._keys):
            distance = abs(self.x_of(self._shown_key_frame(index)) - point.x())
            if distance < best_distance or (distance == best_distance and index == self._selected):
                best, best_distance = index, distance
        return best

    def marker_centre(self, index: int) -> QPointF:
        return QPointF(self.x_of(self._shown_key_frame(index)), self._track_rect().center().y())

    def context_menu(self, point: QPointF) -> QMenu:
        """The menu a right click at `point` opens (built, not shown)."""
        menu = QMenu(self)
        add = menu.addAction(f"Add key pose at the playhead ({self._seconds(self._frame)})")
        add.triggered.connect(lambda: self.key_add_requested.emit(self._frame))
        marker = self.marker_at(point)
        if marker is not None:
            delete = menu.addAction(f"Delete key pose {marker + 1}")
            delete.triggered.connect(lambda: self.key_delete_requested.emit(marker))
        frame = self.frame_at(point.x())
        span = next((s for s in self._spans if s[0] <= frame < s[1]), None)
        if span is not None:
            remove = menu.addAction(f"Remove keep span {self._seconds(span[0])} - {self._seconds(span[1])}")
            remove.triggered.connect(lambda: self._set_spans(subtract_span(self._spans, span)))
        if self._spans:
            clear = menu.addAction("Clear keep spans")
            clear.triggered.connect(lambda: self._set_spans([]))
        return menu

    def sizeHint(self) -> QSize:
        return QSize(640, 64)

    # ---- events --------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        point, button = event.position(), event.button()
        self._press_x, self._moved = point.x(), False
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and shift):
            self._drag, self._span_button = "span", button
            self._span_erase = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
            self._span_anchor = self._drag_frame = self.frame_at(point.x())
        elif button == Qt.MouseButton.LeftButton:
            marker = self.marker_at(point)
            if marker is not None:
                self._drag, self._drag_key, self._drag_frame = "key", marker, self._keys[marker]
                self._selected = marker
                self.key_selected.emit(marker)
            else:
                self._drag = "scrub"
                self._scrub_to(self.frame_at(point.x()), always=True)
        else:
            super().mousePressEvent(event)
            return
        self.update()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._drag is None:
            over_marker = self.marker_at(event.position()) is not None
            self.setCursor(Qt.CursorShape.SizeHorCursor if over_marker else Qt.CursorShape.ArrowCursor)
            return
        self._moved = self._moved or abs(x - self._press_x) >= DRAG_THRESHOLD
        if self._drag == "scrub":
            self._scrub_to(self.frame_at(x))
        elif self._drag == "span" or (self._drag == "key" and self._moved):
            self._drag_frame = self.frame_at(x)
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag, self._drag = self._drag, None
        if drag == "key":
            index, frame = self._drag_key, self._drag_frame
            if self._moved and frame != self._keys[index]:
                self._keys[index] = frame  # shown at once; the owner's set_keys has the last word
                self.key_moved.emit(index, frame)
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

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # from the keyboard's menu key
        point = QPointF(self.x_of(self._frame), self._track_rect().center().y())
        self.context_menu(point).exec(event.globalPos())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, shift = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self._selected is not None:
            self.key_delete_requested.emit(self._selected)
        elif key == Qt.Key.Key_K:
            self.key_add_requested.emit(self._frame)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = (self._fps if shift else 1) * (1 if key == Qt.Key.Key_Right else -1)
            self._scrub_to(self._frame + step)
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

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _BACKGROUND)
        painter.fillRect(QRectF(0, 0, self.width(), RULER_HEIGHT), _RULER)
        self._paint_ruler(painter)
        track = self._track_rect()
        for first, last in self._spans:
            self._paint_span(painter, track, first, last, _SPAN, edges=True)
        for first, last in self._stale:
            self._paint_stale(painter, track, first, last)
        if self._drag == "span" and self._moved:
            first, last = sorted((self._span_anchor, self._drag_frame))
            colour = _SPAN_ERASING if self._span_erase else _SPAN_PAINTING
            self._paint_span(painter, track, first, last + 1, colour, edges=False)
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

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()  # the focus ring

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    # ---- internals -----------------------------------------------------------------------------

    def _clamp(self, frame: float) -> int:
        return max(0, min(int(frame), self._length - 1))

    def _seconds(self, frame: int) -> str:
        return f"{frame / self._fps:.2f} s"

    def _track_rect(self) -> QRectF:
        return QRectF(0, RULER_HEIGHT, self.width(), self.height() - RULER_HEIGHT)

    def _shown_key_frame(self, index: int) -> int:
        dragging = self._drag == "key" and self._moved and index == self._drag_key
        return self._drag_frame if dragging else self._keys[index]

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
        seconds = (self._length - 1) / self._fps
        pixels_per_second = (self.width() - 2 * MARGIN) / max(seconds, 1e-9)
        step = next((s for s in _TICK_STEPS if s * pixels_per_second >= 56), _TICK_STEPS[-1])
        minor = step / 5 if step * pixels_per_second >= 40 else step
        painter.setPen(QPen(_TICK, 1))
        for i in range(int(seconds / minor + 1e-6) + 1):
            x = self.x_of(i * minor * self._fps)
            painter.drawLine(QPointF(x, RULER_HEIGHT - 4), QPointF(x, RULER_HEIGHT))
        font = painter.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        for i in range(int(seconds / step + 1e-6) + 1):
            t = i * step
            x = self.x_of(t * self._fps)
            painter.setPen(QPen(_TICK, 1))
            painter.drawLine(QPointF(x, RULER_HEIGHT - 9), QPointF(x, RULER_HEIGHT))
            painter.setPen(_TEXT)
            label = f"{t:g}s"
            painter.drawText(QRectF(x + 3, 1, 60, RULER_HEIGHT - 8), Qt.AlignmentFlag.AlignLeft, label)

    def _paint_span(self, painter: QPainter, track: QRectF, first: int, last: int, colour: QColor, *,
                    edges: bool) -> None:
        half = self.x_of(1) - self.x_of(0) if self._length > 1 else 0.0
        left, right = self.x_of(first) - half / 2, self.x_of(last - 1) + half / 2  # [first, last) covers whole frames
        rect = QRectF(left, track.top() + 2, max(right - left, 2.0), track.height() - 4)
        painter.fillRect(rect, colour)
        if edges:
            painter.setPen(QPen(_SPAN_EDGE, 1))
            painter.drawLine(rect.topLeft(), rect.bottomLeft())
            painter.drawLine(rect.topRight(), rect.bottomRight())

    def _paint_stale(self, painter: QPainter, track: QRectF, first: int, last: int) -> None:
        half = self.x_of(1) - self.x_of(0) if self._length > 1 else 0.0
        left, right = self.x_of(first) - half / 2, self.x_of(last - 1) + half / 2
        rect = QRectF(left, track.top(), max(right - left, 2.0), track.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(rect, QBrush(STALE_COLOUR, Qt.BrushStyle.BDiagPattern))
        painter.fillRect(QRectF(rect.left(), rect.bottom() - 3, rect.width(), 3), STALE_COLOUR)
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

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.x_of(self._frame)
        painter.setPen(QPen(_PLAYHEAD, 1.5))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_PLAYHEAD)
        painter.drawPolygon(QPolygonF([QPointF(x - 5, 0), QPointF(x + 5, 0), QPointF(x, 7)]))


class PlaybackControls(QWidget):
    """Play/pause, the time, and loop; playback follows the clock, so a slow frame skips, not drifts."""

    frame_changed = pyqtSignal(int)
    playing_changed = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._length = 1
        self._fps = 20
        self._frame = 0
        self._start_frame = 0  # the frame playback (re)started from, at self._clock's start
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

        self.play_button = QPushButton()
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play or pause")
        self.play_button.toggled.connect(self._on_button)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setChecked(True)
        self.time_label = QLabel()
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("000.00 s  (000 / 000)"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.time_label)
        layout.addWidget(self.loop_box)
        layout.addStretch(1)
        self._show_state()

    @property
    def is_playing(self) -> bool:
        return self._timer.isActive()

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def loop(self) -> bool:
        return self.loop_box.isChecked()

    def set_loop(self, loop: bool) -> None:
        self.loop_box.setChecked(bool(loop))

    def set_length(self, frames: int, fps: int = 20) -> None:
        self._length = max(1, int(frames))
        self._fps = max(1, int(fps))
        self._frame = min(self._frame, self._length - 1)
        self._timer.setInterval(max(1, round(1000 / self._fps / 2)))  # twice a frame: steadier steps
        self._restart_clock()
        self._show_state()

    def set_frame(self, frame: int) -> None:
        """Move to `frame` (emits nothing); playing goes on from there."""
        self._frame = max(0, min(int(frame), self._length - 1))
        self._restart_clock()
        self._show_state()

    def play(self) -> None:
        if self.is_playing or self._length < 2:
            return
        if self._frame >= self._length - 1 and not self.loop:
            self._frame = 0  # played to the end before: start again
            self.frame_changed.emit(0)
        self._timer.setInterval(max(1, round(1000 / self._fps / 2)))
        self._restart_clock()
        self._timer.start()
        self._show_state()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if not self.is_playing:
            return
        self._timer.stop()
        self._show_state()
        self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.is_playing else self.play()

    def _restart_clock(self) -> None:
        self._start_frame = self._frame
        self._clock.start()

    def _tick(self) -> None:
        frame = self._start_frame + math.floor(self._clock.elapsed() * self._fps / 1000)
        if frame >= self._length:
            if self.loop:
                frame %= self._length
            else:
                frame = self._length - 1
                self._timer.stop()
        if frame != self._frame:
            self._frame = frame
            self.frame_changed.emit(frame)
        if not self._timer.isActive():  # stopped at the end
            self.playing_changed.emit(False)
        self._show_state()

    def _on_button(self, checked: bool) -> None:
        if checked != self.is_playing:
            self.play() if checked else self.pause()
        self._show_state()  # play() refuses a motion of one frame: unpress the button

    def _show_state(self) -> None:
        playing = self.is_playing
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(False)
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText("Pause" if playing else "Play")
        self.time_label.setText(f"{self._frame / self._fps:6.2f} s  ({self._frame + 1} / {self._length})")
