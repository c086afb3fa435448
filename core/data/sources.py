"""Mocap sources for `keymask data build`: each archive (or a user's folder) -> labelled clips.

A source knows where its files are, its licence, and how its labels become our content labels
(the captions' vocabulary, core/data/captions.py). Clips that are copies of one recorded take
share a `group`, so that the split keeps them on one side. Sources:

- bandai: the Bandai Namco Research Motion Dataset (BVH, content and style labels), CC BY-NC 4.0.
- hdm05: HDM05 cut clips (ASF/AMC, 11 classes), CC BY-SA 3.0.
- cmu: the CMU mocap subset (ASF/AMC and BVH, CMU's trial descriptions), CMU's terms. Trials
  whose description lists several activities (the playground takes) are left out: one caption
  could not describe every window of them.
- a user's folder: motion files (BVH or ASF/AMC) and a caption table `captions.tsv` with the
  columns `file` and `caption` (several rows per file allowed) or `file`, `content`, `style`.
"""

import csv
import hashlib
import json
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from keymask.core.errors import KeyMaskError
from keymask.core.fileio import write_text

BANDAI_LICENSE = (
    "Bandai Namco Research Motion Dataset (Bandai Namco Research Inc.), CC BY-NC 4.0: attribution required, "
    "no commercial use. Cite: Kobayashi et al., \"Motion Capture Dataset for Practical Use of AI-based Motion "
    "Editing and Stylization\", arXiv:2306.08861, 2023."
)
HDM05_LICENSE = (
    "HDM05 (Universitaet Bonn), CC BY-SA 3.0: attribution required, adaptations shared alike. Cite: Mueller, "
    "Roeder, Clausen, Eberhardt, Krueger, Weber, \"Documentation Mocap Database HDM05\", Tech. Rep. CG-2007-2, "
    "Universitaet Bonn, 2007. The data used in this project was obtained from HDM05."
)
CMU_LICENSE = (
    "CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu), CMU's terms: free for research, may be part "
    "of commercially sold products, not resold directly. The database was created with funding from NSF "
    "EIA-0196217."
)


class DatasetSourceError(KeyMaskError, RuntimeError):
    """The source archives are missing, damaged or not what we expect."""


@dataclass(frozen=True)
class SourceClip:
    clip_id: str  # unique across sources, file-name safe
    path: Path  # .bvh or .amc
    source: str  # "bandai", "hdm05", "cmu" or "user"
    content: str  # content label (captions.CONTENT_PHRASES), "" when captions are given
    style: str
    group: str  # copies of one take share a group, and so a split
    asf: Path | None = None  # skeleton of an .amc file
    captions: tuple[str, ...] = ()  # given sentences (user tables); else written from the labels
    skip_first_frames: int = 0  # at 20 fps, e.g. a rest pose recorded before the take
    up: str | None = None  # the file's up axis ("+y"), None: detected by the importer


@dataclass(frozen=True)
class MocapSource:
    name: str
    folder: Path  # the archive folder (or a user's motion folder)
    archives: tuple[str, ...]
    license: str
    clips: list[SourceClip] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archives(source_dir: Path, archives: tuple[str, ...]) -> dict[str, str]:
    """Check that the archives exist and match the folder's SHA256SUMS; returns {archive: digest}."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise DatasetSourceError(f"The data folder {source_dir} does not exist: pass the folder that holds "
                                 f"{', '.join(archives)} and SHA256SUMS.")
    sums_file = source_dir / "SHA256SUMS"
    if not sums_file.exists():
        raise DatasetSourceError(f"No SHA256SUMS in {source_dir}: point the build at the folder holding the archives.")
    checksums = {}
    for line_number, line in enumerate(sums_file.read_text().splitlines(), start=1):
        parts = line.split()
        if len(parts) == 2:
            checksums[parts[1].lstrip("*")] = parts[0].lower()
        elif parts:
            raise DatasetSourceError(f"{sums_file}, line {line_number}: expected '<sha256>  <file name>'.")
    verified = {}
    for name in archives:
        archive = source_dir / name
        if not archive.exists():
            raise DatasetSourceError(f"The archive {archive} is missing: copy it back from the shared data folder.")
        if name not in checksums:
            raise DatasetSourceError(f"SHA256SUMS in {source_dir} has no entry for {name}.")
        digest = _sha256(archive)
        if digest != checksums[name]:
            raise DatasetSourceError(f"The archive {archive} is damaged: its SHA-256 is {digest[:12]}..., "
                                     f"SHA256SUMS says {checksums[name][:12]}....")
        verified[name] = digest
    return verified


def extract_archives(source_dir: Path, cache_dir: Path, digests: dict[str, str]) -> Path:
    """Extract archives into `cache_dir` once; a marker file holding the digest makes it idempotent."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, digest in digests.items():
        target = cache_dir / name.removesuffix(".tar.xz")
        marker = target / ".extracted"
        if marker.exists() and marker.read_text().strip() == digest:
            continue
        partial = cache_dir / f".{target.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(Path(source_dir) / name) as tar:
            tar.extractall(partial, filter="data")
        write_text(partial / ".extracted", digest + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return cache_dir


def _read_tsv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise DatasetSourceError(f"The table {path} is missing.")
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


# --- Bandai Namco ---------------------------------------------------------------------------

BANDAI_ARCHIVES = ("bandai-namco-1.tar.xz", "bandai-namco-2.tar.xz")


def _label_lines(label_file: Path) -> list[str]:
    return [line.strip() for line in label_file.read_text().splitlines() if line.strip()]


def bandai_source(folder: Path, extract_root: Path) -> MocapSource:
    """Clips named `dataset-N_{content}_{style}_{id}.bvh`, each with a JSON of label indices."""
    extracted = extract_archives(folder, extract_root / "bandai-namco", verify_archives(folder, BANDAI_ARCHIVES))
    clips = []
    for data_dir in sorted(extracted.glob("bandai-namco-*/**/data")):
        cfg = data_dir.parent / "cfg"
        contents, styles = _label_lines(cfg / "content_label.txt"), _label_lines(cfg / "style_label.txt")
        for bvh_path in sorted(data_dir.glob("*.bvh")):
            labels = json.loads(bvh_path.with_suffix(".json").read_text())
            content, style = contents[labels["content"]], styles[labels["style"]]
            clips.append(SourceClip(clip_id=bvh_path.stem, path=bvh_path, source="bandai",
                                    content=content.split("_", 1)[1], style=style.split("_", 1)[1],
                                    group=bvh_path.stem, up="+y"))
    if not clips:
        raise DatasetSourceError(f"No BVH clips found under {extracted}: the archives may be incomplete.")
    return MocapSource("bandai", folder, BANDAI_ARCHIVES, BANDAI_LICENSE, clips)


# --- HDM05 ----------------------------------------------------------------------------------

HDM05_CONTENT = {
    "squat1Reps": "squat",
    "hopBothLegs1hops": "hop",
    "elbowToKnee1RepsLelbowStart": "elbow-to-knee-left",
    "depositFloorR": "put-down-right-hand",
    "grabHighR": "reach-up-right-hand",
    "kickLFront1Reps": "kick-left-leg",
    "lieDownFloor": "lie-down",
    "jogLeftCircle4StepsRstart": "jog-circle-left",
    "rotateArmsBothBackward1Reps": "arm-circles",
    "sneak2StepsLStart": "sneak",
    "throwBasketball": "throw",
}


def _extracted_archive(folder: Path, extract_root: Path, archive: str) -> Path:
    """Verify one `<name>.tar.xz` and extract it once; the `<name>/` folder its files are under."""
    name = archive.removesuffix(".tar.xz")
    return extract_archives(folder, extract_root / name, verify_archives(folder, (archive,))) / name / name


def hdm05_source(folder: Path, extract_root: Path) -> MocapSource:
    root = _extracted_archive(folder, extract_root, "hdm05-cuts.tar.xz")
    clips = []
    for row in _read_tsv(Path(folder) / "labels.tsv"):
        if row["label"] not in HDM05_CONTENT:
            raise DatasetSourceError(f"HDM05 class '{row['label']}' has no content label; add it to HDM05_CONTENT.")
        path = root / row["file"]
        clips.append(SourceClip(clip_id="hdm05_" + path.stem.removeprefix("HDM_"), path=path, source="hdm05",
                                content=HDM05_CONTENT[row["label"]], style="normal",
                                group="hdm05_" + path.stem, asf=root / row["asf"], up="+y"))
    return MocapSource("hdm05", folder, ("hdm05-cuts.tar.xz",), HDM05_LICENSE, clips)


# --- CMU --------------------------------------------------------------------------------------

# CMU's description (or, for the style-transfer clips, this copy's) -> (content, style); None: left out.
CMU_CONTENT: dict[str, tuple[str, str] | None] = {
    "walk": ("walk", "normal"),
    "slow walk": ("walk", "slow"),
    "brisk walk": ("walk", "brisk"),
    "walks forward": ("walk", "normal"),
    "walks forward about 2 m": ("walk", "normal"),
    "walk on uneven terrain": ("walk-uneven", "normal"),
    "run/jog": ("run", "normal"),
    "jump, balance": ("jump-balance", "normal"),
    "punch/strike": ("punch", "normal"),
    "bend over, scoop up, rise, lift arm": ("scoop", "normal"),
    "swordplay": ("swordplay", "normal"),
    "wash self": ("wash-self", "normal"),
    "basketball - forward dribble": ("dribble", "normal"),
    "basketball - backward dribble": ("dribble-back", "normal"),
    "basketball - sideways dribble": ("dribble-sideways", "normal"),
    "basketball - forward dribble, 90-degree left turns": ("dribble-turn-left", "normal"),
    "basketball - forward dribble, 90-degree right turns": ("dribble-turn-right", "normal"),
    "basketball - forward dribble, 90-degree right turns, crossover dribble": ("dribble-turn-right", "normal"),
    "basketball - crossover dribble, shoot": ("shoot-basketball", "normal"),
    "basketball - dribble, shoot": ("shoot-basketball", "normal"),
    "shadow-boxes, moving around": ("shadow-box", "normal"),
    "dances": ("dance-long", "normal"),
    "hops up and down in place": ("hop", "normal"),
    "leaps forward across a gap": ("jump-forward", "normal"),
    "does jumping jacks": ("jumping-jacks", "normal"),
    "steps forward and kicks": ("kick", "normal"),
    "mimes swimming strokes while standing in place": ("swim", "normal"),
    "makes wiping motions with the hands while standing in place": ("wipe", "normal"),
}


def _cmu_labels(description: str) -> tuple[str, str] | None:
    if description.startswith("dance - "):
        return "ballet", "normal"
    if description.startswith("playground - "):
        return None
    key = description.split(" (")[0]
    if key not in CMU_CONTENT:
        raise DatasetSourceError(f"CMU description '{description}' has no content label; add it to CMU_CONTENT.")
    return CMU_CONTENT[key]


def cmu_source(folder: Path, extract_root: Path) -> MocapSource:
    root = _extracted_archive(folder, extract_root, "cmu-subset.tar.xz")
    clips = []
    for row in _read_tsv(Path(folder) / "descriptions.tsv"):
        labels = _cmu_labels(row["description"])
        if labels is None:
            continue
        path = root / row["file"]
        asf = None
        if path.suffix == ".amc":
            asf = path.parent / (path.stem.split("_")[0] + ".asf")
        trial = (f"cmu_{int(row['cmu_subject']):02d}_{int(row['cmu_trial']):02d}"
                 if row["cmu_subject"] and row["cmu_trial"] else "cmu_" + path.stem)
        form = "amc" if path.suffix == ".amc" else "bvh"
        clips.append(SourceClip(clip_id=f"{trial}_{form}" if row["cmu_trial"] else trial, path=path, source="cmu",
                                content=labels[0], style=labels[1], group=trial, asf=asf, up="+y",
                                skip_first_frames=1 if "frame 0 is a rest pose" in row.get("note", "") else 0))
    return MocapSource("cmu", folder, ("cmu-subset.tar.xz",), CMU_LICENSE, clips)


# --- a user's folder ------------------------------------------------------------------------


def user_source(folder: Path, license_note: str = "The user's own motion files (licence as the user holds it).") -> MocapSource:
    """Motion files under `folder` captioned by `folder/captions.tsv` (see the module docstring)."""
    folder = Path(folder)
    rows = _read_tsv(folder / "captions.tsv")
    if not rows or "file" not in rows[0]:
        raise DatasetSourceError(f"{folder / 'captions.tsv'} needs a header row with a 'file' column and either "
                                 "'caption' or 'content' and 'style'.")
    captions: dict[str, list[str]] = {}
    labels: dict[str, tuple[str, str]] = {}
    for row in rows:
        name = row["file"]
        if row.get("caption"):
            captions.setdefault(name, []).append(row["caption"].strip())
        elif row.get("content"):
            labels[name] = (row["content"].strip(), (row.get("style") or "normal").strip())
        else:
            raise DatasetSourceError(f"{folder / 'captions.tsv'}: the row for '{name}' has neither a caption nor a content label.")
    clips = []
    for name in sorted(set(captions) | set(labels)):
        path = folder / name
        if not path.exists():
            raise DatasetSourceError(f"{folder / 'captions.tsv'} names '{name}', which is not in {folder}.")
        content, style = labels.get(name, ("", "normal"))
        stem = "user_" + "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(name).with_suffix("").as_posix())
        clips.append(SourceClip(clip_id=stem, path=path, source="user", content=content, style=style, group=stem,
                                captions=tuple(captions.get(name, ()))))  # an .amc's skeleton: the importer finds it
    return MocapSource("user", folder, (), license_note, clips)
