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
    return cache_dir() / "datasets" / "mocap-hml3d"


# Source name -> (folder name under shared/data, environment variable that overrides it)
SHARED_SOURCES = {
    "bandai": ("bandai-namco", "KEYMASK_BANDAI_DIR"),
    "hdm05": ("hdm05-cuts", "KEYMASK_HDM05_DIR"),
    "cmu": ("cmu-subset", "KEYMASK_CMU_DIR"),
}


def find_shared_source(name: str) -> Path | None:
    """A shared archive folder (bandai, hdm05 or cmu): its environment variable, or ../shared/data beside
    the working directory or one of its parents."""
    folder, variable = SHARED_SOURCES[name]
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    for base in (Path.cwd(), *Path.cwd().parents):
        candidate = base.parent / "shared" / "data" / folder
        if candidate.is_dir():
            return candidate
        if base == base.parent:
            break
    return None
