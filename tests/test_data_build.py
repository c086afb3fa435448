"""`keymask data build` on the real archives (a few clips), its resumability and its errors."""

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from keymask.core.data.build import BuildOptions, build_dataset, split_of
from keymask.core.data.sources import BANDAI_ARCHIVES, DatasetSourceError, bandai_source, user_source, verify_archives
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
    real = [r for r in records if r["source"] != "joined"]
    assert len(real) == 2 * N_CLIPS  # each clip and its mirror
    assert summary.clips == len(records) and sum(summary.split_counts.values()) == len(records)
    for record in records:
        features = np.load(out / "features" / f"{record['clip_id']}.npy")
        joints = np.load(out / "joints" / f"{record['clip_id']}.npy")
        assert features.shape == (record["frames"], 263) and joints.shape == (record["frames"] + 1, 22, 3)
        assert np.isfinite(features).all()
        if record["source"] == "joined":
            assert record["split"] == "train" and (">" in record["content"] or "&" in record["content"])
        else:
            assert record["split"] == split_of(record["group"]) and record["group"] == record["source_clip"]
            assert "CC BY-NC 4.0" in record["license"]
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
    record = next(r for r in map(json.loads, (out / "manifest.jsonl").read_text().splitlines()) if not r["mirrored"])
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
        verify_archives(tmp_path, BANDAI_ARCHIVES)


def test_damaged_archive_is_reported(bandai_dir, tmp_path):
    for name in ("bandai-namco-1.tar.xz", "bandai-namco-2.tar.xz"):
        os.symlink(bandai_dir / name, tmp_path / name)
    lines = (bandai_dir / "SHA256SUMS").read_text().splitlines()
    lines[0] = "0" * 64 + lines[0][64:]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetSourceError, match="damaged"):
        verify_archives(tmp_path, BANDAI_ARCHIVES)


def test_unwritable_output_is_one_sentence_and_writes_nothing(bandai_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    options = BuildOptions(sources=[bandai_source(bandai_dir, tmp_path / "x")], output_dir=blocker / "dataset", limit=1)
    with pytest.raises(OutputPathError, match="Cannot create the output folder"):
        build_dataset(options, progress=False)
    assert blocker.read_text() == "not a folder" and not (blocker.parent / "dataset").exists()


def test_a_users_folder_with_a_caption_table_builds_with_mirrored_captions(cmu, tmp_path):
    """A user's own BVH (CMU names, centimetres) and captions.tsv: imported, captioned, mirrored."""
    folder = tmp_path / "my_mocap"
    folder.mkdir()
    (folder / "takes").mkdir()
    (folder / "takes" / "walk.bvh").write_bytes(cmu["bvh_walk"].read_bytes())
    (folder / "captions.tsv").write_text("file\tcaption\ntakes/walk.bvh\tA man walks forward and looks to his left.\n"
                                         "takes/walk.bvh\tSomeone strolls ahead.\n")
    options = BuildOptions(sources=[user_source(folder)], output_dir=tmp_path / "dataset", workers=1,
                           sequences=0, simultaneous=0)
    summary = build_dataset(options, progress=False)
    records = {r["clip_id"]: r for r in map(json.loads, (tmp_path / "dataset" / "manifest.jsonl").read_text().splitlines())}
    assert summary.per_source == {"user": 2} and set(records) == {"user_takes_walk", "Muser_takes_walk"}
    assert records["user_takes_walk"]["captions"][0] == "A man walks forward and looks to his left."
    assert records["Muser_takes_walk"]["captions"][0] == "A man walks forward and looks to his right."
    joints = np.load(tmp_path / "dataset" / "joints" / "user_takes_walk.npy")
    assert joints.shape[1:] == (22, 3) and 1.2 < joints[:, 15, 1].mean() < 2.0  # metres, head up


def test_a_caption_table_naming_a_missing_file_is_one_sentence(tmp_path):
    (tmp_path / "captions.tsv").write_text("file\tcaption\nnot_here.bvh\tA person waves.\n")
    with pytest.raises(DatasetSourceError, match="not_here.bvh"):
        user_source(tmp_path)
