"""The studio's own settings: where the weights are (the generation model, CLIP, Stable Diffusion,
ControlNet and OpenPose) and how the 3D view shows motions.

Both are stored with QSettings in an INI file (`settings_file()`: $KEYMASK_STUDIO_CONFIG_DIR or Qt's
per-user config folder). `availability(locations)` says in words what each location gives, and
`SettingsDialog` shows that next to each path while it is edited.
"""

import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from PyQt6.QtCore import QSettings, QStandardPaths
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from keymask.conditioning.imagine import available_weights

GOOD, MISSING = "#2e7d32", "#b71c1c"  # label colours: available, not available
STATE_WIDTH = 600  # pixels of the sentence under each path
_CLI_HINT = re.compile(r" (or|and) pass --\w+ DIR\.$")  # the command line's advice, not the dialog's


@dataclass(frozen=True)
class WeightLocations:
    model: str = ""  # a KeyMask model folder or official MoMask checkpoints; "": $KEYMASK_MODEL or the shipped model
    clip_weights: str = ""  # OpenAI CLIP ViT-B-32.pt, for official checkpoints; "": $KEYMASK_CLIP_WEIGHTS
    sd_dir: str = ""  # diffusers Stable Diffusion 1.5 folder
    controlnet_dir: str = ""  # diffusers ControlNet-OpenPose folder
    openpose_dir: str = ""  # folder with body_pose_model.pth

    def model_folder(self) -> str | None:
        """The model generation loads: this setting, else $KEYMASK_MODEL, else None (the shipped model)."""
        return self.model or os.environ.get("KEYMASK_MODEL") or None

    def clip_file(self) -> str | None:
        return self.clip_weights or os.environ.get("KEYMASK_CLIP_WEIGHTS") or None


@dataclass(frozen=True)
class ViewSettings:
    onion_skins: bool = False  # faint figures before and after the playhead


# (field, label, is a file) in the dialog's order
ROWS = (
    ("model", "Generation model", False),
    ("clip_weights", "CLIP ViT-B/32 weights", True),
    ("sd_dir", "Stable Diffusion 1.5", False),
    ("controlnet_dir", "ControlNet OpenPose", False),
    ("openpose_dir", "OpenPose body model", False),
)


def settings_file() -> Path:
    folder = os.environ.get("KEYMASK_STUDIO_CONFIG_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.GenericConfigLocation) + "/keymask"
    return Path(folder) / "studio.ini"


def _store() -> QSettings:
    return QSettings(str(settings_file()), QSettings.Format.IniFormat)


def load_locations() -> WeightLocations:
    store = _store()
    return WeightLocations(**{f.name: str(store.value(f"weights/{f.name}", "") or "") for f in fields(WeightLocations)})


def save_locations(locations: WeightLocations) -> None:
    store = _store()
    for name, value in asdict(locations).items():
        store.setValue(f"weights/{name}", value)
    store.sync()


def load_view_settings() -> ViewSettings:
    store = _store()
    return ViewSettings(**{f.name: store.value(f"view/{f.name}", f.default, type=bool) for f in fields(ViewSettings)})


def save_view_settings(view: ViewSettings) -> None:
    store = _store()
    for name, value in asdict(view).items():
        store.setValue(f"view/{name}", value)
    store.sync()


def availability(locations: WeightLocations) -> dict[str, tuple[bool, str]]:
    """Per field: (usable, a sentence saying what is there or what is missing)."""
    found = available_weights(locations.sd_dir or None, locations.controlnet_dir or None,
                              locations.openpose_dir or None)
    detector = {"openpose": "OpenPose", "photo": "the photo extractor (mediapipe)", "none": "nothing"}

    def missing(kind: str) -> str:
        return _CLI_HINT.sub(" and choose that folder here.", found[f"{kind}_help"])

    return {
        "model": _model_state(locations.model_folder()),
        "clip_weights": _clip_state(locations.clip_file(), locations.model_folder()),
        "sd_dir": (found["stable_diffusion"], "Stable Diffusion found: poses can be imagined from text."
                   if found["stable_diffusion"] else missing("stable_diffusion")),
        "controlnet_dir": (found["controlnet"], "ControlNet found." if found["controlnet"] else missing("controlnet")),
        "openpose_dir": (found["openpose"], "OpenPose found." if found["openpose"] else
                         f"{missing('openpose')} Imagined pictures are read by "
                         f"{detector[found['pose_detector']]} instead."),
    }


def _model_state(folder: str | None) -> tuple[bool, str]:
    if folder is None:
        from keymask.studio.worker import default_model_folder

        there = (default_model_folder() / "keymask_model.json").exists()
        return there, ("The shipped default model." if there else
                       f"The shipped default model is missing from {default_model_folder()}: reinstall KeyMask.")
    path = Path(folder)
    if (path / "keymask_model.json").exists():
        return True, "A KeyMask model folder."
    if (path / "opt.txt").exists():
        return True, "Official MoMask checkpoints (they need the CLIP weights below)."
    if path.exists():
        return False, f"{path} holds neither keymask_model.json nor official checkpoints (opt.txt)."
    return False, f"{path} does not exist."


def _clip_state(path: str | None, model: str | None) -> tuple[bool, str]:
    needed = model is not None and (Path(model) / "opt.txt").exists()
    if path is None:
        return (not needed), ("Not set: the official checkpoints above need it." if needed else
                              "Not set (only official MoMask checkpoints need it).")
    if Path(path).is_file():
        return True, "CLIP weights found."
    return False, f"{path} is not a file."


class SettingsDialog(QDialog):
    """A path, a browse button and a coloured sentence of what is there, for each location."""

    def __init__(self, locations: WeightLocations, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Weight locations")
        self.edits: dict[str, QLineEdit] = {}
        self.states: dict[str, QLabel] = {}
        grid = QGridLayout()
        for row, (name, label, is_file) in enumerate(ROWS):
            edit = QLineEdit(getattr(locations, name))
            edit.setPlaceholderText("not set")
            edit.textChanged.connect(self.refresh)
            browse = QPushButton("Browse…")
            browse.clicked.connect(lambda _=False, n=name, f=is_file: self._browse(n, f))
            state = QLabel()
            state.setWordWrap(True)
            state.setMinimumWidth(STATE_WIDTH)
            grid.addWidget(QLabel(label), 2 * row, 0)
            line = QHBoxLayout()
            line.addWidget(edit)
            line.addWidget(browse)
            grid.addLayout(line, 2 * row, 1)
            grid.addWidget(state, 2 * row + 1, 1)
            self.edits[name], self.states[name] = edit, state
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.refusal = QLabel()  # why OK did not save, in the same colour as a missing location
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet(f"color: {MISSING}")
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.refusal)
        layout.addWidget(buttons)
        self.refresh()

    def accept(self) -> None:
        """Save only locations that can be used: a path given but unusable is refused with its reason
        (so the error does not wait for the next Generate); so are CLIP weights official checkpoints need."""
        for name, (usable, text) in availability(self.locations()).items():
            if not usable and (self.edits[name].text().strip() or name == "clip_weights"):
                label = next(row[1] for row in ROWS if row[0] == name)
                self.refusal.setText(f"Not saved. {label}: {text}")
                self.edits[name].setFocus()
                return
        self.refusal.clear()
        super().accept()

    def locations(self) -> WeightLocations:
        return WeightLocations(**{name: edit.text().strip() for name, edit in self.edits.items()})

    def refresh(self) -> None:
        for name, (usable, text) in availability(self.locations()).items():
            state = self.states[name]
            state.setText(text)
            state.setStyleSheet(f"color: {GOOD if usable else MISSING}")
            state.setMinimumHeight(state.heightForWidth(STATE_WIDTH))  # wrapped lines are not cut off
        self.adjustSize()

    def _browse(self, name: str, is_file: bool) -> None:
        current = self.edits[name].text()
        path = (QFileDialog.getOpenFileName(self, "Choose a file", current)[0] if is_file else
                QFileDialog.getExistingDirectory(self, "Choose a folder", current))
        if path:
            self.edits[name].setText(path)
