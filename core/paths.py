"""Where KeyMask keeps caches and built datasets (always outside the repository)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """$KEYMASK_CACHE, else $XDG_CACHE_HOME/keymask, else ~/.cache/keymask."""
    if os.environ.get("KEYMASK_CACHE"):
        return Path(os.environ["KEYMASK_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "keymask"


def default_dataset_dir() -> Path:
    return cache_dir() / "datasets" / "bandai-namco-hml3d"


def find_bandai_source() -> Path | None:
    """The shared Bandai Namco archive folder: $KEYMASK_BANDAI_DIR, or ../shared beside the working directory."""
    if os.environ.get("KEYMASK_BANDAI_DIR"):
        return Path(os.environ["KEYMASK_BANDAI_DIR"]).expanduser()
    for base in (Path.cwd(), *Path.cwd().parents):
        candidate = base.parent / "shared" / "data" / "bandai-namco"
        if candidate.is_dir():
            return candidate
        if base == base.parent:
            break
    return None
