"""`keymask studio`: the desktop window (text, key poses, timeline, 3D preview, export)."""

import argparse
from pathlib import Path

EPILOG = """\
examples:
  keymask studio                      a new project (or restore the edits of a studio that was killed)
  keymask studio jump.keymask.json    open a project
  keymask studio --recover no         start without restoring unsaved edits

The window runs the same generation, key pose and export code as the other commands. Edits are
written to a recovery file as they are made; the next start offers to restore them."""


def add_parser(subparsers) -> None:
    studio = subparsers.add_parser("studio", help="open the KeyMask Studio window",
                                   description="Open the desktop app: prompt, key poses on a timeline, a 3D "
                                               "preview of the samples, and export to BVH.",
                                   epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    studio.add_argument("project", nargs="?", type=Path, default=None, help="a project file to open (.keymask.json)")
    studio.add_argument("--recover", choices=("ask", "yes", "no"), default="ask",
                        help="unsaved edits of a studio that was killed: ask, restore (yes) or leave them (no) "
                             "(default: %(default)s)")
    studio.set_defaults(run=run)


def run(args) -> int:
    from keymask.studio.app import run_studio

    return run_studio(args.project, args.recover)
