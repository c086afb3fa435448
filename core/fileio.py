"""Atomic file output: a file is either written whole or not at all, never half-written."""

import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from keymask.core.errors import KeyMaskError


class OutputPathError(KeyMaskError, OSError):
    """An output path that cannot be written, explained in one sentence."""


def ensure_output_dir(folder: str | os.PathLike) -> Path:
    """Create `folder` if needed and check that it can be written; OutputPathError otherwise."""
    folder = Path(folder)
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputPathError(f"Cannot create the output folder {folder}: {error.strerror or error}.") from error
    if not folder.is_dir():
        raise OutputPathError(f"Cannot write into {folder}: it is not a folder.")
    if not os.access(folder, os.W_OK):
        raise OutputPathError(f"Cannot write into {folder}: permission denied.")
    return folder


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[io.IOBase]:
    """Open a temporary file beside `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    ensure_output_dir(path.parent)
    if "b" in mode:
        encoding = None
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_current_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, mode, encoding=encoding, newline="" if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_json(path: str | os.PathLike, data, indent: int | None = 1) -> None:
    write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_write(path, "wb") as handle:
        np.save(handle, np.asarray(array))


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def read_json(path: str | os.PathLike, where: str, error: type[Exception], kind: str = "file"):
    """The JSON document at `path`; `error` with one sentence starting with `where` (e.g. "Pose file
    x.json") for a missing, unreadable, empty or malformed file. `kind` names what it should be."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise error(f"{where} does not exist.") from None
    except IsADirectoryError:
        raise error(f"{where} is a folder, not a file.") from None
    except UnicodeDecodeError:
        raise error(f"{where} is not UTF-8 text, so it cannot be a {kind}.") from None
    except OSError as failure:
        raise error(f"{where} cannot be read: {failure.strerror or failure}.") from None
    if not text.strip():
        raise error(f"{where} is empty.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(f"{where} is not valid JSON ({failure.msg} at line {failure.lineno}, "
                    f"column {failure.colno}).") from None
    except RecursionError:
        raise error(f"{where} is nested too deeply to be a {kind}.") from None
