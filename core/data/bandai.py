"""The Bandai Namco Research Motion Dataset archives: checksum, extraction, labels.

The archives (`bandai-namco-{1,2}.tar.xz`) hold BVH clips named
`dataset-N_{content}_{style}_{id}.bvh`, 30 fps, centimetres, Y up, each with a JSON of label
indices. Licence CC BY-NC 4.0: everything derived from them inherits it (see LICENSE_NOTE).
"""

import hashlib
import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from keymask.core.fileio import write_text

ARCHIVES = ("bandai-namco-1.tar.xz", "bandai-namco-2.tar.xz")

LICENSE_NOTE = (
    "Derived from the Bandai Namco Research Motion Dataset (Bandai Namco Research Inc.), "
    "licensed CC BY-NC 4.0: attribution required, no commercial use. Cite: Kobayashi et al., "
    "\"Motion Capture Dataset for Practical Use of AI-based Motion Editing and Stylization\", "
    "arXiv:2306.08861, 2023."
)


class DatasetSourceError(RuntimeError):
    """The source archives are missing, damaged or not what we expect."""


@dataclass(frozen=True)
class BandaiClip:
    clip_id: str  # file stem, e.g. "dataset-1_walk_normal_001"
    bvh_path: Path
    dataset: int  # 1 or 2
    content: str  # e.g. "walk-turn-left"
    style: str  # e.g. "elderly"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checksums(source_dir: Path) -> dict[str, str]:
    sums_file = source_dir / "SHA256SUMS"
    if not sums_file.exists():
        raise DatasetSourceError(
            f"No SHA256SUMS in {source_dir}: point --source at the folder holding the Bandai Namco archives."
        )
    checksums = {}
    for line_number, line in enumerate(sums_file.read_text().splitlines(), start=1):
        parts = line.split()
        if len(parts) != 2:
            if parts:
                raise DatasetSourceError(f"{sums_file}, line {line_number}: expected '<sha256>  <file name>'.")
            continue
        checksums[parts[1].lstrip("*")] = parts[0].lower()
    return checksums


def verify_archives(source_dir: Path) -> dict[str, str]:
    """Check that both archives exist and match SHA256SUMS; returns {archive name: digest}."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise DatasetSourceError(
            f"The Bandai Namco data folder {source_dir} does not exist: pass --source with the folder "
            "that holds bandai-namco-1.tar.xz, bandai-namco-2.tar.xz and SHA256SUMS."
        )
    checksums = read_checksums(source_dir)
    verified = {}
    for name in ARCHIVES:
        archive = source_dir / name
        if not archive.exists():
            raise DatasetSourceError(f"The archive {archive} is missing: copy it back from the shared data folder.")
        if name not in checksums:
            raise DatasetSourceError(f"SHA256SUMS in {source_dir} has no entry for {name}.")
        digest = _sha256(archive)
        if digest != checksums[name]:
            raise DatasetSourceError(
                f"The archive {archive} is damaged: its SHA-256 is {digest[:12]}..., SHA256SUMS says {checksums[name][:12]}...."
            )
        verified[name] = digest
    return verified


def extract_archives(source_dir: Path, cache_dir: Path, digests: dict[str, str]) -> Path:
    """Extract both archives into `cache_dir` once; a marker file holding the digest makes it idempotent."""
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


def _labels(label_file: Path) -> list[str]:
    return [line.strip() for line in label_file.read_text().splitlines() if line.strip()]


def list_clips(extracted_dir: Path) -> list[BandaiClip]:
    """All clips under the extracted archives, labelled from each clip's JSON and the label files."""
    clips = []
    for data_dir in sorted(Path(extracted_dir).glob("bandai-namco-*/**/data")):
        cfg = data_dir.parent / "cfg"
        contents, styles = _labels(cfg / "content_label.txt"), _labels(cfg / "style_label.txt")
        for bvh_path in sorted(data_dir.glob("*.bvh")):
            labels = json.loads(bvh_path.with_suffix(".json").read_text())
            content, style = contents[labels["content"]], styles[labels["style"]]
            dataset = int(content.split("_")[0].removeprefix("dataset-"))
            clips.append(BandaiClip(
                clip_id=bvh_path.stem,
                bvh_path=bvh_path,
                dataset=dataset,
                content=content.split("_", 1)[1],
                style=style.split("_", 1)[1],
            ))
    if not clips:
        raise DatasetSourceError(f"No BVH clips found under {extracted_dir}: the archives may be incomplete.")
    return clips
