"""`keymask`: the command line. Each subcommand lives in its own module with `add_parser` and `run`."""

import argparse
import os
import sys
from keymask import __version__

from keymask.cli import convert, data, evaluate, generate, pose, studio, train
from keymask.cli.errors import CommandError

SUBCOMMANDS = (studio, generate, pose, data, train, evaluate, convert)


DESCRIPTION = """\
KeyMask Studio: turn words and key poses into 3D human animation, exported as BVH.

Start with:
  keymask studio                the desktop window: text, key poses, 3D preview, export
  keymask generate "a person jumps over a puddle" -o jump.bvh    text -> BVH
  keymask edit walk.bvh --keep 0-2s "a person jumps" -o out.bvh  regenerate part of a motion
  keymask pose extract photo.jpg -o pose.json                     a key pose from a photo
  keymask generate "a person jumps" --key-pose pose.json@1.5s -o jump.bvh   text + key poses
  keymask data build            build the training dataset from the mocap archives (and your own)
  keymask eval                  benchmark the model: FID, R-precision, foot skating, paraphrases
  keymask convert walk.bvh -o walk.npy   read a BVH as 22 joint positions (and back)

Every subcommand has its own --help with examples. Exit status: 0 done, 1 failed (a file that
cannot be read, weights that are missing: one sentence says what), 2 usage (options or input
the command cannot take: one sentence says how), 130 interrupted. generate, edit, convert and pose run on one CPU
thread, which stays fast beside other busy programs; set OMP_NUM_THREADS and OPENBLAS_NUM_THREADS
to use more. Training and eval use every core."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keymask", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"keymask {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


# Generation works on small matrices: on a 2-core machine beside other busy programs two BLAS threads
# ran 1.1x (this machine, load 4.8) to 6-9x (issue 13) slower than one, and one loses little when idle.
# Training and evaluation keep every core. Setting any of these variables overrides the choice.
ONE_THREAD_COMMANDS = ("generate", "edit", "convert", "pose")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _say_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line for the user ("keymask: warning: ..."), not Python's file and source line."""
    print(f"keymask: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ONE_THREAD_COMMANDS:
        for variable in THREAD_VARIABLES:  # read when numpy or torch loads, which is after this
            os.environ.setdefault(variable, "1")
    with warnings.catch_warnings():
        warnings.showwarning = _say_warning
        return _run(args)


def _run(args) -> int:
    from keymask.core.errors import KeyMaskError, UsageError, missing_extra

    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        print("keymask: interrupted; finished files are kept, unfinished ones were not written.", file=sys.stderr)
        return 130
    except UsageError as error:
        print(f"keymask: error: {error}", file=sys.stderr)
        return 2
    except (KeyMaskError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as error:
        print(f"keymask: error: {error}", file=sys.stderr)
        return 1
    except ImportError as error:
        sentence = missing_extra(error)
        if sentence is None:
            raise
        print(f"keymask: error: {sentence}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
