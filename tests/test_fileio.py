import os
import stat

import numpy as np
import pytest

from keymask.core import fileio
from keymask.core.fileio import OutputPathError, atomic_write, write_npy, write_text


def test_written_files_get_ordinary_permissions(tmp_path):
    write_text(tmp_path / "a.txt", "hello")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    assert mode == 0o666 & ~fileio._current_umask()


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "data.npy"
    write_npy(target, np.arange(3))
    with pytest.raises(RuntimeError):
        with atomic_write(target, "wb") as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert os.listdir(tmp_path) == ["data.npy"]


def test_path_under_a_file_is_one_sentence(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match="it is not a folder"):
        write_text(tmp_path / "file" / "x.txt", "x")
    with pytest.raises(OutputPathError, match="Cannot create the output folder"):
        write_text(tmp_path / "file" / "deeper" / "x.txt", "x")
