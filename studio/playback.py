"""Play/pause, the time and loop, beside the timeline."""

import math

from PyQt6.QtCore import QElapsedTimer, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QStyle, QWidget


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
        self.time_label.setMinimumWidth(self.time_label.fontMetrics().horizontalAdvance("000.00 s  frame 000 / 000"))
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
        # The dope sheet's frame numbers: 0 to length - 1.
        self.time_label.setText(f"{self._frame / self._fps:6.2f} s  frame {self._frame} / {self._length - 1}")
