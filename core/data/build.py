"""`keymask data build`: the Bandai Namco archives -> a HumanML3D-style training dataset.

Steps: verify the archives' checksums, extract them to the cache, then per clip: read the BVH,
retarget onto the 22-joint skeleton (metres, 20 fps), compute the 263-d features, and do the
same for the left/right mirror image. Finally: deterministic train/val/test split by clip id,
mean/std over the training split, captions, a manifest and a licence note.

Per-clip outputs are written atomically and skipped when present, so an interrupted build
resumes where it stopped and a second build only re-checks.
"""

import hashlib
import json
import multiprocessing
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from keymask.core.bvh.reader import read_bvh
from keymask.core.data.bandai import LICENSE_NOTE, BandaiClip, extract_archives, list_clips, verify_archives
from keymask.core.data.captions import captions_for, mirror_label
from keymask.core.data.retarget import bandai_to_humanml3d
from keymask.core.features import FeatureLayout, joints_to_features
from keymask.core.fileio import ensure_output_dir, write_json, write_npy, write_text
from keymask.core.kinematics import mirror_joints
from keymask.core.spec import HUMANML3D, MotionSpec
from keymask.core.statistics import feature_mean_std

# Bump when the outputs of a clip would change, so that an old build is not silently reused.
BUILD_FORMAT = 2
MIN_FRAMES = 12  # 0.6 s at 20 fps: three motion tokens
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
CAPTIONS_PER_CLIP = 4


@dataclass
class BuildOptions:
    source_dir: Path
    output_dir: Path
    extract_dir: Path
    workers: int = 2
    mirror: bool = True
    limit: int | None = None  # build only the first N clips (by id), for quick looks
    spec: MotionSpec = HUMANML3D


@dataclass
class ClipRecord:
    clip_id: str  # "M" + source id for mirrored copies, as HumanML3D names them
    source_clip: str
    mirrored: bool
    dataset: int
    content: str
    style: str
    frames: int  # feature frames at 20 fps
    seconds: float
    split: str
    captions: list[str] = field(default_factory=list)


@dataclass
class BuildSummary:
    output_dir: Path
    clips: int
    skipped: list[tuple[str, str]]
    frames: int
    seconds_of_motion: float
    build_seconds: float
    split_counts: dict[str, int]


def split_of(clip_id: str) -> str:
    """Deterministic split from the clip id alone (stable across machines and clip subsets)."""
    fraction = int(hashlib.sha1(clip_id.encode()).hexdigest()[:8], 16) / 0x100000000
    cumulative = 0.0
    for split, share in SPLIT_FRACTIONS.items():
        cumulative += share
        if fraction < cumulative:
            return split
    return "test"


def _build_signature(options: BuildOptions) -> dict:
    return {
        "format": BUILD_FORMAT,
        "fps": options.spec.fps,
        "foot_contact_threshold": options.spec.foot_contact_threshold,
        "min_frames": MIN_FRAMES,
    }


def _prepare_output(options: BuildOptions) -> None:
    """Reuse an existing build folder only if it was made with the same settings."""
    ensure_output_dir(options.output_dir)
    info_file = options.output_dir / "build_info.json"
    signature = _build_signature(options)
    if info_file.exists():
        previous = json.loads(info_file.read_text())
        if previous.get("signature") != signature:
            for sub in ("joints", "features"):
                shutil.rmtree(options.output_dir / sub, ignore_errors=True)
    for sub in ("joints", "features", "texts", "splits"):
        ensure_output_dir(options.output_dir / sub)
    write_json(info_file, {"signature": signature, "license": LICENSE_NOTE})


def _records_for(clip: BandaiClip, frames: int, options: BuildOptions) -> list[ClipRecord]:
    split = split_of(clip.clip_id)
    seconds = round(frames / options.spec.fps, 3)
    records = [ClipRecord(clip.clip_id, clip.clip_id, False, clip.dataset, clip.content, clip.style, frames, seconds,
                          split, captions_for(clip.clip_id, clip.content, clip.style, CAPTIONS_PER_CLIP))]
    if options.mirror:
        content = mirror_label(clip.content)
        mirrored_id = "M" + clip.clip_id
        records.append(ClipRecord(mirrored_id, clip.clip_id, True, clip.dataset, content, clip.style, frames, seconds,
                                  split, captions_for(mirrored_id, content, clip.style, CAPTIONS_PER_CLIP)))
    return records


def _process_clip(job: tuple[BandaiClip, BuildOptions]) -> tuple[BandaiClip, int | None, str]:
    """Write joints and features for one clip (and its mirror); returns (clip, feature frames or None, reason)."""
    clip, options = job
    out = options.output_dir
    names = [clip.clip_id] + (["M" + clip.clip_id] if options.mirror else [])
    if all((out / "features" / f"{n}.npy").exists() and (out / "joints" / f"{n}.npy").exists() for n in names):
        frames = np.load(out / "features" / f"{clip.clip_id}.npy", mmap_mode="r").shape[0]
        return clip, frames, "cached"
    try:
        joints = bandai_to_humanml3d(read_bvh(clip.bvh_path), fps=options.spec.fps)  # (T, J, 3) metres
    except Exception as error:  # one bad clip must not stop the build; it is reported at the end
        return clip, None, f"unreadable: {error}"
    if len(joints) < MIN_FRAMES + 1:
        return clip, None, f"too short ({len(joints)} frames)"
    variants = [joints] + ([mirror_joints(joints)] if options.mirror else [])
    for name, positions in zip(names, variants):
        features = joints_to_features(positions, foot_contact_threshold=options.spec.foot_contact_threshold)
        if not np.isfinite(features).all():
            return clip, None, "non-finite features"
        write_npy(out / "joints" / f"{name}.npy", positions.astype(np.float32))
        write_npy(out / "features" / f"{name}.npy", features.astype(np.float32))
    return clip, len(joints) - 1, "built"


def _write_readme(options: BuildOptions, summary: "BuildSummary") -> None:
    text = f"""# Bandai Namco mocap as a HumanML3D-style dataset (built by `keymask data build`)

{LICENSE_NOTE}

- {summary.clips} clips ({"with" if options.mirror else "without"} left/right mirrored copies, ids starting with "M"),
  {summary.frames} frames, {summary.seconds_of_motion / 60:.1f} minutes of motion at {options.spec.fps} fps.
- `joints/<id>.npy`: (T+1, 22, 3) float32 joint positions, metres, Y up, retargeted from the BVH.
- `features/<id>.npy`: (T, 263) float32 HumanML3D features of those joints.
- `texts/<id>.txt`: captions, one sentence a line, written from the content and style labels.
- `manifest.jsonl`: one JSON record a clip (clip id, source clip, mirrored, content, style, frames, seconds, split, captions).
- `splits/{{train,val,test}}.txt`: clip ids; a clip and its mirror are always in the same split.
- `mean.npy`, `std.npy`: feature statistics of the training split (std averaged within each feature group).
"""
    write_text(options.output_dir / "README.md", text)
    write_text(options.output_dir / "LICENSE.txt", LICENSE_NOTE + "\nFull licence text: https://creativecommons.org/licenses/by-nc/4.0/\n")


def build_dataset(options: BuildOptions, progress: bool = True) -> BuildSummary:
    started = time.perf_counter()
    digests = verify_archives(options.source_dir)
    _prepare_output(options)
    extract_archives(options.source_dir, options.extract_dir, digests)
    clips = list_clips(options.extract_dir)
    if options.limit is not None:
        clips = clips[: options.limit]

    jobs = [(clip, options) for clip in clips]
    results = []
    bar = tqdm(total=len(jobs), desc="clips", unit="clip", disable=not progress)
    if options.workers > 1:
        with multiprocessing.get_context("spawn").Pool(options.workers) as pool:
            for result in pool.imap_unordered(_process_clip, jobs, chunksize=4):
                results.append(result)
                bar.update()
    else:
        for job in jobs:
            results.append(_process_clip(job))
            bar.update()
    bar.close()

    records: list[ClipRecord] = []
    skipped = []
    for clip, frames, reason in sorted(results, key=lambda r: r[0].clip_id):
        if frames is None:
            skipped.append((clip.clip_id, reason))
            continue
        records.extend(_records_for(clip, frames, options))
    if not records:
        raise RuntimeError("No clip could be built; see the reasons above.")

    for record in records:
        write_text(options.output_dir / "texts" / f"{record.clip_id}.txt", "\n".join(record.captions) + "\n")
    split_counts = {}
    for split in SPLIT_FRACTIONS:
        ids = [r.clip_id for r in records if r.split == split]
        split_counts[split] = len(ids)
        write_text(options.output_dir / "splits" / f"{split}.txt", "".join(f"{i}\n" for i in ids))
    write_text(options.output_dir / "manifest.jsonl", "".join(json.dumps(asdict(r)) + "\n" for r in records))

    train_features = [np.load(options.output_dir / "features" / f"{r.clip_id}.npy") for r in records if r.split == "train"]
    if not train_features:  # tiny --limit builds may have no training clip
        train_features = [np.load(options.output_dir / "features" / f"{r.clip_id}.npy") for r in records]
    mean, std = feature_mean_std(np.concatenate(train_features), FeatureLayout.from_spec(options.spec))
    write_npy(options.output_dir / "mean.npy", mean.astype(np.float32))
    write_npy(options.output_dir / "std.npy", std.astype(np.float32))

    summary = BuildSummary(
        output_dir=options.output_dir,
        clips=len(records),
        skipped=skipped,
        frames=sum(r.frames for r in records),
        seconds_of_motion=sum(r.seconds for r in records),
        build_seconds=time.perf_counter() - started,
        split_counts=split_counts,
    )
    _write_readme(options, summary)
    return summary
