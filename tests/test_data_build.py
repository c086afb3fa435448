"""`keymask data build` on the real archives (a few clips), its resumability and its errors."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from keymask.core.data.bandai import DatasetSourceError, verify_archives
from keymask.core.data.build import BuildOptions, build_dataset, split_of
from keymask.core.features import recover_from_ric
from keymask.core.fileio import OutputPathError

N_CLIPS = 6


@pytest.fixture(scope="module")
def built(small_dataset):
    return small_dataset


def test_build_writes_a_consistent_dataset(built):
    options, summary = built
    out = options.output_dir
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert summary.clips == len(records) == 2 * N_CLIPS  # each clip and its mirror
    assert sum(summary.split_counts.values()) == len(records)
    for record in records:
        features = np.load(out / "features" / f"{record['clip_id']}.npy")
        joints = np.load(out / "joints" / f"{record['clip_id']}.npy")
        assert features.shape == (record["frames"], 263) and joints.shape == (record["frames"] + 1, 22, 3)
        assert np.isfinite(features).all()
        assert record["split"] == split_of(record["source_clip"])
        assert (out / "texts" / f"{record['clip_id']}.txt").read_text().splitlines() == record["captions"]
        # Features decode to a plausible standing human: about 1.2-2.2 m from feet to head.
        recovered = recover_from_ric(features)
        height = recovered[:, 15, 1].mean() - recovered[:, [10, 11], 1].min()
        assert 1.0 < height < 2.2
    mean, std = np.load(out / "mean.npy"), np.load(out / "std.npy")
    assert mean.shape == std.shape == (263,) and (std > 0).all()
    assert "CC BY-NC 4.0" in (out / "README.md").read_text()
    assert "CC BY-NC 4.0" in (out / "build_info.json").read_text()
    assert "CC BY-NC 4.0" in (out / "LICENSE.txt").read_text()


def test_mirrored_copy_is_the_mirror_image(built):
    options, _ = built
    out = options.output_dir
    record = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
    original = np.load(out / "joints" / f"{record['clip_id']}.npy")
    mirrored = np.load(out / "joints" / f"M{record['clip_id']}.npy")
    np.testing.assert_allclose(mirrored[:, 1, 0], -original[:, 2, 0], atol=1e-6)  # left hip <- right hip, x negated
    np.testing.assert_allclose(mirrored[:, 1, 1:], original[:, 2, 1:], atol=1e-6)


def test_second_build_is_fast_and_changes_nothing(built):
    options, first = built
    feature_file = next((options.output_dir / "features").glob("*.npy"))
    stamp = feature_file.stat().st_mtime_ns
    started = time.perf_counter()
    second = build_dataset(options, progress=False)
    assert time.perf_counter() - started < first.build_seconds + 5
    assert feature_file.stat().st_mtime_ns == stamp  # cached clip not rewritten
    assert second.clips == first.clips and second.frames == first.frames


def test_split_is_deterministic_and_roughly_80_10_10():
    ids = [f"dataset-2_walk_normal_{i:03d}" for i in range(2000)]
    splits = [split_of(i) for i in ids]
    assert splits == [split_of(i) for i in ids]
    shares = {s: splits.count(s) / len(ids) for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.8) < 0.04 and abs(shares["val"] - 0.1) < 0.03


def test_missing_archive_is_reported(bandai_dir, tmp_path):
    (tmp_path / "SHA256SUMS").write_text((bandai_dir / "SHA256SUMS").read_text())
    with pytest.raises(DatasetSourceError, match="missing"):
        verify_archives(tmp_path)


def test_damaged_archive_is_reported(bandai_dir, tmp_path):
    for name in ("bandai-namco-1.tar.xz", "bandai-namco-2.tar.xz"):
        os.symlink(bandai_dir / name, tmp_path / name)
    lines = (bandai_dir / "SHA256SUMS").read_text().splitlines()
    lines[0] = "0" * 64 + lines[0][64:]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetSourceError, match="damaged"):
        verify_archives(tmp_path)


def test_unwritable_output_is_one_sentence_and_writes_nothing(bandai_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    options = BuildOptions(source_dir=bandai_dir, output_dir=blocker / "dataset", extract_dir=tmp_path / "x", limit=1)
    with pytest.raises(OutputPathError, match="Cannot create the output folder"):
        build_dataset(options, progress=False)
    assert not (tmp_path / "x").exists()
