"""Open a model folder with the right backend.

"auto" runs KeyMask model folders with numpy (fast start-up, no torch import) and official
MoMask checkpoints with torch (they are torch archives and need CLIP, a torch model).
"""

from pathlib import Path

from keymask.core.backends.interface import MotionModels
from keymask.core.models.saved import BUNDLE_FILE, CheckpointError

BACKENDS = ("auto", "numpy", "torch")


def load_models(folder: str | Path, *, backend: str = "auto", device: str = "cpu") -> MotionModels:
    """The models in `folder` (ours or the official layout) on `backend`; device is for torch."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}: expected one of {', '.join(BACKENDS)}.")
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise CheckpointError(f"The model folder {folder} does not exist.")
    ours = (folder / BUNDLE_FILE).exists()
    if backend == "auto":
        backend = "numpy" if ours and device == "cpu" else "torch"
    if backend == "numpy":
        if not ours:
            raise CheckpointError(f"{folder} is not a KeyMask model folder ({BUNDLE_FILE}); official MoMask "
                                  "checkpoints run on the torch backend.")
        from keymask.core.backends.numpy_backend import load_numpy_models

        return load_numpy_models(folder)
    from keymask.core.models.bundle import load_torch_models

    return load_torch_models(folder, device)
