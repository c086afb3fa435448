"""`keymask data ...`: build and look at the training dataset."""

import argparse
import os
from pathlib import Path

EPILOG = """\
examples:
  keymask data build                       # bandai + hdm05 + cmu from ../shared/data -> ~/.cache/keymask/datasets/mocap-hml3d
  keymask data build --sources bandai --limit 20 --out /tmp/tiny   # a quick 20-clip build
  keymask data build --add ~/my_mocap --statistics-from resources/models/default   # your own clips, to fine-tune
  keymask data preview --clips dataset-1_walk_normal_001 hdm05_bd_squat1Reps_001_120

Your own folder holds BVH (any rig the importer maps by joint names) or ASF/AMC files and a
tab-separated captions.tsv with a header: `file<TAB>caption` (one row per sentence) or
`file<TAB>content<TAB>style` (labels the caption writer knows).

Licences: every built clip keeps its source's licence (manifest field `license`):
Bandai Namco CC BY-NC 4.0 (no commercial use), HDM05 CC BY-SA 3.0, CMU under CMU's terms."""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("data", help="build and preview the training dataset",
                                   description="Build and preview the training dataset.", epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    build = commands.add_parser(
        "build", help="mocap archives and folders -> HumanML3D-style dataset",
        description="Verify the archives, extract them to the cache, import every clip onto the 22-joint "
                    "HumanML3D skeleton at 20 fps, compute 263-d features (plus mirrored copies), split "
                    "train/val/test by take, join two-action training motions, write captions, statistics "
                    "and a manifest. Resumable: finished clips are kept, and a second run only re-checks.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("--sources", nargs="+", default=["bandai", "hdm05", "cmu"], choices=["bandai", "hdm05", "cmu"],
                       help="shared archives to use (default: all three), found in $KEYMASK_BANDAI_DIR, "
                            "$KEYMASK_HDM05_DIR, $KEYMASK_CMU_DIR or ../shared/data")
    for name, folder in (("bandai", "bandai-namco"), ("hdm05", "hdm05-cuts"), ("cmu", "cmu-subset")):
        build.add_argument(f"--{name}-dir", type=Path, default=None, metavar="DIR",
                           help=f"the {name} archive folder (default: ../shared/data/{folder} or its environment variable)")
    build.add_argument("--add", type=Path, action="append", default=[], metavar="FOLDER",
                       help="a folder of your own motion files with captions.tsv (repeatable)")
    build.add_argument("--out", type=Path, default=None,
                       help="dataset folder to write (default: ~/.cache/keymask/datasets/mocap-hml3d)")
    build.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                       help="parallel processes (default: %(default)s)")
    build.add_argument("--limit", type=int, default=None, help="build only the first N clips of each source (by id)")
    build.add_argument("--no-mirror", dest="mirror", action="store_false",
                       help="skip the left/right mirrored copies")
    build.add_argument("--sequences", type=int, default=2000,
                       help="two-action motions joined in sequence from training clips (default: %(default)s)")
    build.add_argument("--simultaneous", type=int, default=800,
                       help="walking or running with an arm gesture at once (default: %(default)s)")
    build.add_argument("--statistics-from", type=Path, default=None, metavar="MODEL",
                       help="keep this model folder's mean.npy/std.npy (to fine-tune that model on the data)")
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
    from keymask.core.data.build import BuildOptions, build_dataset
    from keymask.core.data.sources import DatasetSourceError, bandai_source, cmu_source, hdm05_source, user_source
    from keymask.core.paths import SHARED_SOURCES, cache_dir, default_dataset_dir, find_shared_source

    if args.limit is not None and args.limit < 1:
        raise DatasetSourceError("--limit must be at least 1.")
    if args.statistics_from is not None and not (args.statistics_from / "mean.npy").exists():
        raise DatasetSourceError(f"--statistics-from {args.statistics_from} has no mean.npy: give a model folder.")
    readers = {"bandai": bandai_source, "hdm05": hdm05_source, "cmu": cmu_source}
    extract_root = cache_dir() / "extracted"
    sources = []
    for name in dict.fromkeys(args.sources):
        folder = getattr(args, f"{name}_dir") or find_shared_source(name)
        if folder is None:
            folder_name, variable = SHARED_SOURCES[name]
            raise DatasetSourceError(f"Could not find the {name} archives: set {variable} to the folder that holds "
                                     f"them (../shared/data/{folder_name} in the project's layout).")
        print(f"source {name}: {folder}")
        sources.append(readers[name](folder, extract_root))
    sources.extend(user_source(folder) for folder in args.add)
    options = BuildOptions(sources=sources, output_dir=args.out or default_dataset_dir(),
                           workers=max(1, args.workers), mirror=args.mirror, limit=args.limit,
                           sequences=args.sequences, simultaneous=args.simultaneous,
                           statistics_from=args.statistics_from)
    summary = build_dataset(options)
    print(f"Built {summary.clips} motions ({summary.frames} frames, {summary.seconds_of_motion / 60:.1f} min of motion) "
          f"in {summary.build_seconds:.0f} s -> {summary.output_dir}")
    print("Per source: " + ", ".join(f"{k} {v}" for k, v in summary.per_source.items()))
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
