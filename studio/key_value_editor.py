"""The small popup that sets one key pose's frame, hold or ease on the timeline."""

from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout

if TYPE_CHECKING:
    from keymask.studio.timeline import Timeline


class KeyValueEditor(QFrame):
    """The small input that sets one key's frame, hold or ease: a line for the value (frames, or
    seconds written with an s: 0.5s) and a line that says, in one sentence, why a value was refused.
    Enter applies (and closes); Escape closes."""

    WORDS = {"frame": "Frame", "hold": "Hold (frames)", "ease": "Ease (frames)"}

    def __init__(self, timeline: "Timeline", index: int, field: str):
        super().__init__(timeline, Qt.WindowType.Popup)
        if field not in self.WORDS:
            raise ValueError(f"A key's {field!r} cannot be typed; type its {', '.join(self.WORDS)}.")
        self.timeline, self.index, self.field = timeline, index, field
        self.setFrameShape(QFrame.Shape.StyledPanel)
        hold, ease = timeline.key_timing[index]
        value = {"frame": timeline.keys[index], "hold": hold, "ease": ease}[field]
        self.field_edit = QLineEdit(str(value))
        self.field_edit.selectAll()
        self.field_edit.returnPressed.connect(self.apply)
        self.message = QLabel(wordWrap=True)
        self.message.setStyleSheet("color: #ff8a80")
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel(f"Key pose {index + 1}: {self.WORDS[field]}"))
        row.addWidget(self.field_edit)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.setMinimumWidth(260)

    def value(self) -> int | None:
        """The typed value in frames, None when it is not a number."""
        text = self.field_edit.text().strip().lower()
        try:
            if text.endswith("s"):
                return int(round(float(text[:-1]) * self.timeline.fps))
            return int(text)
        except ValueError:
            return None

    def apply(self) -> None:
        value = self.value()
        if value is None:
            why = (f"\"{self.field_edit.text()}\" is not a number: type whole frames (30) or seconds (1.5s).")
        else:
            why = self.timeline.check_value(self.index, self.field, value)
        if why is not None:
            self.message.setText(why)
            self.message.show()
            self.adjustSize()
            return
        self.close()
        self.timeline.apply_value(self.index, self.field, value)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event) -> None:
        if self.timeline.editor is self:
            self.timeline.editor = None
        super().closeEvent(event)
