"""Pictures of a built dataset: a contact sheet and a GIF of a few clips, to check retargeting by eye."""

import json
from pathlib import Path

import numpy as np

from keymask.core.preview import render_animation, render_contact_sheet, save_gif, save_png

SOURCE_CREDITS = {
    "bandai": "Bandai Namco Research Motion Dataset (CC BY-NC 4.0)",
    "hdm05": "HDM05, Universitaet Bonn (CC BY-SA 3.0)",
    "cmu": "CMU Graphics Lab Motion Capture Database, mocap.cs.cmu.edu (NSF EIA-0196217)",
}

DEFAULT_CLIPS = (
    "dataset-1_walk_normal_001", "dataset-2_walk-turn-left_normal_001", "dataset-1_kick_normal_001",
    "dataset-2_wave-right-hand_elderly_001", "hdm05_bd_squat1Reps_001_120", "cmu_jumping-jack",
)


def write_dataset_preview(dataset_dir: Path, clip_ids: list[str] | None = None,
                          png_path: Path | None = None) -> tuple[Path, Path]:
    dataset_dir = Path(dataset_dir)
    manifest = dataset_dir / "manifest.jsonl"
    if not manifest.exists():
        raise FileNotFoundError(f"No built dataset in {dataset_dir}: run `keymask data build` first.")
    records = {r["clip_id"]: r for r in map(json.loads, manifest.read_text().splitlines())}
    if clip_ids is None:
        clip_ids = [c for c in DEFAULT_CLIPS if c in records] or list(records)[:4]
    unknown = [c for c in clip_ids if c not in records]
    if unknown:
        raise FileNotFoundError(f"Clip {unknown[0]} is not in the dataset at {dataset_dir}.")
    motions = []
    for clip_id in clip_ids:
        joints = np.load(dataset_dir / "joints" / f"{clip_id}.npy")
        motions.append((f"{clip_id}: {records[clip_id]['captions'][0]}", joints))
    png_path = Path(png_path) if png_path else dataset_dir / "preview.png"
    gif_path = png_path.with_suffix(".gif")
    sources = {records[c]["source"] for c in clip_ids if records[c].get("source") in SOURCE_CREDITS}
    credit = "Data: " + "; ".join(SOURCE_CREDITS[s] for s in sorted(sources)) + ", retargeted by KeyMask"
    save_png(render_contact_sheet(motions, footer=credit), png_path)
    short = [(title.split(":")[0], joints[:120]) for title, joints in motions]
    save_gif(render_animation(short), gif_path)
    return png_path, gif_path
