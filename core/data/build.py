"""`keymask data build`: mocap sources -> a HumanML3D-style training dataset.

Steps: per source (sources.py), verify the archives' checksums and extract them to the cache;
per clip: import the motion onto the 22-joint skeleton (metres, 20 fps; core/mocap), compute the
263-d features, and do the same for the left/right mirror image. Then: a deterministic
train/val/test split by each clip's group (copies of one take stay together), two-action
motions joined from training clips (composites.py), mean/std over the training split (or a
model's own, to fine-tune it), captions, a manifest and the licence of every source.

Per-clip outputs are written atomically and skipped when present, so an interrupted build
resumes where it stopped and a second build only re-checks.
"""

import hashlib
import json
import multiprocessing
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from keymask.core.data.captions import captions_for, mirror_label, sequence_captions, simultaneous_captions
from keymask.core.data.composites import ARM_GESTURES, LOCOMOTION, join_at_once, join_in_sequence
from keymask.core.data.sources import MocapSource, SourceClip
from keymask.core.features import FeatureLayout, joints_to_features
from keymask.core.fileio import ensure_output_dir, write_json, write_npy, write_text
from keymask.core.kinematics import mirror_joints
from keymask.core.mocap.importer import import_joints
from keymask.core.spec import HUMANML3D, MotionSpec
from keymask.core.statistics import feature_mean_std

# Bump when the outputs of a clip would change, so that an old build is not silently reused.
BUILD_FORMAT = 3
MIN_FRAMES = 12  # 0.6 s at 20 fps: three motion tokens
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
CAPTIONS_PER_CLIP = 12
JOINED_SOURCE = "joined"  # the source of clips joined from two (their licence is their parts')


@dataclass
class BuildOptions:
    sources: list[MocapSource]
    output_dir: Path
    workers: int = 2
    mirror: bool = True
    limit: int | None = None  # build only the first N clips of each source (by id), for quick looks
    sequences: int = 2000  # two-action motions in sequence, from training clips
    simultaneous: int = 800  # locomotion with a gesture at once
    statistics_from: Path | None = None  # a model folder whose mean.npy/std.npy to keep (fine-tuning it)
    spec: MotionSpec = HUMANML3D


@dataclass
class ClipRecord:
    clip_id: str  # "M" + source id for mirrored copies, as HumanML3D names them; "C"/"S" for joined ones
    source_clip: str
    source: str
    mirrored: bool
    content: str  # "a>b" for a then b, "a&b" for both at once
    style: str
    frames: int  # feature frames at 20 fps
    seconds: float
    split: str
    group: str
    license: str
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
    per_source: dict[str, int]


def split_of(group: str) -> str:
    """Deterministic split from the clip's group alone (stable across machines and clip subsets)."""
    fraction = int(hashlib.sha1(group.encode()).hexdigest()[:8], 16) / 0x100000000
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


def _licenses(options: BuildOptions) -> dict[str, str]:
    return {source.name: source.license for source in options.sources}


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
    write_json(info_file, {"signature": signature, "licenses": _licenses(options)})


def _clip_captions(clip_id: str, clip: SourceClip, content: str, mirrored: bool) -> list[str]:
    if clip.captions:  # a user's own sentences; mirroring swaps their side words
        return [mirror_sentence(c) for c in clip.captions] if mirrored else list(clip.captions)
    return captions_for(clip_id, content, clip.style, CAPTIONS_PER_CLIP)


_SIDE_WORD = re.compile(r"\b(left|right|Left|Right)\b")
_OTHER_SIDE = {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}


def mirror_sentence(sentence: str) -> str:
    """The caption of the mirrored motion: 'left' and 'right' swap as whole words."""
    return _SIDE_WORD.sub(lambda match: _OTHER_SIDE[match.group(0)], sentence)


def _records_for(clip: SourceClip, frames: int, options: BuildOptions, license_text: str) -> list[ClipRecord]:
    split = split_of(clip.group)
    seconds = round(frames / options.spec.fps, 3)
    records = [ClipRecord(clip.clip_id, clip.clip_id, clip.source, False, clip.content, clip.style, frames, seconds,
                          split, clip.group, license_text, _clip_captions(clip.clip_id, clip, clip.content, False))]
    if options.mirror:
        content = mirror_label(clip.content)
        mirrored_id = "M" + clip.clip_id
        records.append(ClipRecord(mirrored_id, clip.clip_id, clip.source, True, content, clip.style, frames, seconds,
                                  split, clip.group, license_text, _clip_captions(mirrored_id, clip, content, True)))
    return records


def _process_clip(job: tuple[SourceClip, BuildOptions]) -> tuple[SourceClip, int | None, str]:
    """Write joints and features for one clip (and its mirror); returns (clip, feature frames or None, reason)."""
    clip, options = job
    out = options.output_dir
    names = [clip.clip_id] + (["M" + clip.clip_id] if options.mirror else [])
    if all((out / "features" / f"{n}.npy").exists() and (out / "joints" / f"{n}.npy").exists() for n in names):
        frames = np.load(out / "features" / f"{clip.clip_id}.npy", mmap_mode="r").shape[0]
        return clip, frames, "cached"
    try:
        joints = import_joints(clip.path, asf=clip.asf, up=clip.up, fps=options.spec.fps)[clip.skip_first_frames:]  # (T, J, 3) m
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


def _window(joints: np.ndarray, frames: int, rng: random.Random) -> np.ndarray:
    if len(joints) <= frames:
        return joints
    start = rng.randrange(len(joints) - frames + 1)
    return joints[start: start + frames]


def _joined_records(records: list[ClipRecord], options: BuildOptions) -> list[ClipRecord]:
    """Two-action motions from training clips: `sequences` in order, `simultaneous` at once."""
    rng = random.Random(0)
    out = options.output_dir
    train = [r for r in records if r.split == "train" and r.content and not r.source == "user"]
    half = options.spec.max_frames // 2 + 1  # joints of one half: each action gets about 4.9 s
    joined = []
    by_content: dict[str, list[ClipRecord]] = {}
    for record in train:
        by_content.setdefault(record.content, []).append(record)
    contents = sorted(by_content)
    for index in range(options.sequences if len(contents) > 1 else 0):
        first_content, second_content = rng.sample(contents, 2)
        first, second = rng.choice(by_content[first_content]), rng.choice(by_content[second_content])
        clip_id = f"C{index:05d}"
        captions = sequence_captions(clip_id, (first.content, first.style), second.content, CAPTIONS_PER_CLIP)
        joined.append((clip_id, f"{first.content}>{second.content}", first.style, first.clip_id, captions,
                       lambda f=first, s=second: join_in_sequence(_window(np.load(out / "joints" / f"{f.clip_id}.npy"), half, rng),
                                                                  _window(np.load(out / "joints" / f"{s.clip_id}.npy"), half, rng))))
    bodies = [c for c in LOCOMOTION if c in by_content]
    gestures = [c for c in ARM_GESTURES if c in by_content]
    for index in range(options.simultaneous if bodies and gestures else 0):
        body, gesture = rng.choice(by_content[rng.choice(bodies)]), rng.choice(by_content[rng.choice(gestures)])
        clip_id = f"S{index:05d}"
        captions = simultaneous_captions(clip_id, (body.content, body.style), gesture.content, CAPTIONS_PER_CLIP)
        joined.append((clip_id, f"{body.content}&{gesture.content}", body.style, body.clip_id, captions,
                       lambda b=body, g=gesture: join_at_once(_window(np.load(out / "joints" / f"{b.clip_id}.npy"), 2 * half - 1, rng),
                                                              np.load(out / "joints" / f"{g.clip_id}.npy"))))
    made = []
    for clip_id, content, style, source_clip, captions, make in tqdm(joined, desc="joined motions", unit="motion",
                                                                        disable=not joined):
        feature_file, joint_file = out / "features" / f"{clip_id}.npy", out / "joints" / f"{clip_id}.npy"
        if not feature_file.exists() or not joint_file.exists():
            positions = make()
            features = joints_to_features(positions, foot_contact_threshold=options.spec.foot_contact_threshold)
            if not np.isfinite(features).all():
                continue
            write_npy(joint_file, positions.astype(np.float32))
            write_npy(feature_file, features.astype(np.float32))
        frames = int(np.load(feature_file, mmap_mode="r").shape[0])
        made.append(ClipRecord(clip_id, source_clip, JOINED_SOURCE, False, content, style, frames,
                               round(frames / options.spec.fps, 3), "train", clip_id,
                               "as the joined clips' sources", captions))
    return made


def _write_readme(options: BuildOptions, summary: "BuildSummary") -> None:
    licenses = "\n".join(f"- **{name}**: {text}" for name, text in _licenses(options).items())
    per_source = ", ".join(f"{name} {count}" for name, count in summary.per_source.items())
    text = f"""# Motion capture as a HumanML3D-style dataset (built by `keymask data build`)

Every clip stays under the licence of the source it comes from (the manifest's `source` and
`license` fields); a joined two-action motion (ids "C…" and "S…") is under the licences of both
clips it joins (`source_clip` and its captions tell which).

{licenses}

- {summary.clips} motions ({per_source}; {"with" if options.mirror else "without"} left/right mirrored copies, ids
  starting with "M"), {summary.frames} frames, {summary.seconds_of_motion / 60:.1f} minutes of motion at {options.spec.fps} fps.
- `joints/<id>.npy`: (T+1, 22, 3) float32 joint positions, metres, Y up.
- `features/<id>.npy`: (T, 263) float32 HumanML3D features of those joints.
- `texts/<id>.txt`: captions, one sentence a line, written from the content and style labels.
- `manifest.jsonl`: one JSON record a motion.
- `splits/{{train,val,test}}.txt`: motion ids; copies of one take (a clip and its mirror, one CMU trial in two forms)
  are always in the same split; joined motions are in the training split only.
- `mean.npy`, `std.npy`: feature statistics ({'those of ' + str(options.statistics_from) if options.statistics_from else 'of the training split'}).
"""
    write_text(options.output_dir / "README.md", text)
    write_text(options.output_dir / "LICENSE.txt", "This folder holds motions from several sources, each under its own licence:\n\n"
               + licenses + "\n\nCC BY-NC 4.0: https://creativecommons.org/licenses/by-nc/4.0/\n"
               "CC BY-SA 3.0: https://creativecommons.org/licenses/by-sa/3.0/\n")


def build_dataset(options: BuildOptions, progress: bool = True) -> BuildSummary:
    started = time.perf_counter()
    _prepare_output(options)
    clips, license_of = [], {}
    for source in options.sources:
        chosen = sorted(source.clips, key=lambda c: c.clip_id)
        clips.extend(chosen[: options.limit] if options.limit is not None else chosen)
        license_of[source.name] = source.license

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
        records.extend(_records_for(clip, frames, options, license_of[clip.source]))
    if not records:
        raise RuntimeError("No clip could be built; see the reasons above.")
    records.extend(_joined_records(records, options))

    for record in records:
        write_text(options.output_dir / "texts" / f"{record.clip_id}.txt", "\n".join(record.captions) + "\n")
    split_counts = {}
    for split in SPLIT_FRACTIONS:
        ids = [r.clip_id for r in records if r.split == split]
        split_counts[split] = len(ids)
        write_text(options.output_dir / "splits" / f"{split}.txt", "".join(f"{i}\n" for i in ids))
    write_text(options.output_dir / "manifest.jsonl", "".join(json.dumps(asdict(r)) + "\n" for r in records))

    if options.statistics_from is not None:
        mean, std = np.load(Path(options.statistics_from) / "mean.npy"), np.load(Path(options.statistics_from) / "std.npy")
    else:
        real_train = [r for r in records if r.split == "train" and r.source != JOINED_SOURCE] or records
        mean, std = feature_mean_std(
            np.concatenate([np.load(options.output_dir / "features" / f"{r.clip_id}.npy") for r in real_train]),
            FeatureLayout.from_spec(options.spec))
    write_npy(options.output_dir / "mean.npy", mean.astype(np.float32))
    write_npy(options.output_dir / "std.npy", std.astype(np.float32))

    per_source: dict[str, int] = {}
    for record in records:
        per_source[record.source] = per_source.get(record.source, 0) + 1
    summary = BuildSummary(
        output_dir=options.output_dir,
        clips=len(records),
        skipped=skipped,
        frames=sum(r.frames for r in records),
        seconds_of_motion=sum(r.seconds for r in records),
        build_seconds=time.perf_counter() - started,
        split_counts=split_counts,
        per_source=per_source,
    )
    _write_readme(options, summary)
    return summary
