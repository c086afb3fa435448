"""Files shipped with KeyMask: skeleton templates, statistics and trained weights."""

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource file, e.g. resource_path("skeletons", "humanml3d_target.json")."""
    path = RESOURCES_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"KeyMask resource {'/'.join(parts)} is missing from {RESOURCES_DIR}; reinstall the package.")
    return path
