"""`keymask data ...`: build and look at the training dataset."""

import argparse
import os
from pathlib import Path

EPILOG = """\
examples:
  keymask data build                       # ../shared/data/bandai-namco -> ~/.cache/keymask/datasets/bandai-namco-hml3d
  keymask data build --limit 20 --out /tmp/tiny   # a quick 20-clip build
  keymask data preview --clips dataset-1_walk_normal_001 dataset-2_walk-turn-left_normal_001

The data is the Bandai Namco Research Motion Dataset, CC BY-NC 4.0 (no commercial use);
everything built from it carries that licence."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="build and preview the training dataset",
                                   description="Build and preview the training dataset.", epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    build = commands.add_parser(
        "build", help="mocap archives -> HumanML3D-style dataset",
        description="Verify the Bandai Namco archives, extract them to the cache, retarget every clip onto the "
                    "22-joint HumanML3D skeleton at 20 fps, compute 263-d features (plus mirrored copies), "
                    "split train/val/test by clip id, write captions, statistics and a manifest. "
                    "Resumable: finished clips are kept, and a second run only re-checks.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("--source", type=Path, default=None,
                       help="folder with bandai-namco-{1,2}.tar.xz and SHA256SUMS (default: $KEYMASK_BANDAI_DIR "
                            "or ../shared/data/bandai-namco found from the working directory)")
    build.add_argument("--out", type=Path, default=None,
                       help="dataset folder to write (default: ~/.cache/keymask/datasets/bandai-namco-hml3d)")
    build.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                       help="parallel processes (default: %(default)s)")
    build.add_argument("--limit", type=int, default=None, help="build only the first N clips (by id)")
    build.add_argument("--no-mirror", dest="mirror", action="store_false",
                       help="skip the left/right mirrored copies")
    build.add_argument("--no-preview", dest="preview", action="store_false",
                       help="skip the contact sheet and GIF of a few clips")
    build.set_defaults(run=run_build)

    preview = commands.add_parser(
        "preview", help="contact sheet and GIF of built clips",
        description="Draw stick-figure strips (PNG) and an animation (GIF) of built clips, to check the data by eye.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    preview.add_argument("--dataset", type=Path, default=None, help="built dataset folder (default: the cache's)")
    preview.add_argument("--clips", nargs="+", default=None, help="clip ids (default: a few different contents)")
    preview.add_argument("-o", "--output", type=Path, default=None,
                         help="PNG path (default: <dataset>/preview.png; a GIF is written beside it)")
    preview.set_defaults(run=run_preview)


def run_build(args) -> int:
    from keymask.core.data.bandai import DatasetSourceError
    from keymask.core.data.build import BuildOptions, build_dataset
    from keymask.core.paths import cache_dir, default_dataset_dir, find_bandai_source

    source = args.source or find_bandai_source()
    if source is None:
        raise DatasetSourceError("Could not find the Bandai Namco archives: pass --source with the folder that holds "
                                 "bandai-namco-1.tar.xz, bandai-namco-2.tar.xz and SHA256SUMS.")
    if args.limit is not None and args.limit < 1:
        raise DatasetSourceError("--limit must be at least 1.")
    options = BuildOptions(source_dir=source, output_dir=args.out or default_dataset_dir(),
                           extract_dir=cache_dir() / "bandai-namco" / "extracted",
                           workers=max(1, args.workers), mirror=args.mirror, limit=args.limit)
    summary = build_dataset(options)
    print(f"Built {summary.clips} clips ({summary.frames} frames, {summary.seconds_of_motion / 60:.1f} min of motion) "
          f"in {summary.build_seconds:.0f} s -> {summary.output_dir}")
    print("Split: " + ", ".join(f"{k} {v}" for k, v in summary.split_counts.items()))
    for clip_id, reason in summary.skipped:
        print(f"  skipped {clip_id}: {reason}")
    if args.preview:
        from keymask.core.data.preview import write_dataset_preview

        png, gif = write_dataset_preview(summary.output_dir)
        print(f"Preview: {png} and {gif}")
    return 0


def run_preview(args) -> int:
    from keymask.core.data.preview import write_dataset_preview
    from keymask.core.paths import default_dataset_dir

    png, gif = write_dataset_preview(args.dataset or default_dataset_dir(), clip_ids=args.clips, png_path=args.output)
    print(f"Preview: {png} and {gif}")
    return 0
