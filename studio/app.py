"""`main(argv)`: start the studio window (what `keymask studio` runs).

    python -m keymask.studio.app [PROJECT] [--recover ask|yes|no]

--recover says what to do with unsaved edits a killed studio left behind: ask (the default),
restore them (yes) or leave them (no). $KEYMASK_STUDIO_RECOVERY_DIR moves the recovery files
and $KEYMASK_STUDIO_CONFIG_DIR the settings (tests use both).
"""

import argparse
import sys
import traceback
from pathlib import Path

from keymask.studio.main_window import RECOVER_CHOICES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keymask studio", description="Open the KeyMask Studio window.")
    parser.add_argument("project", nargs="?", type=Path, default=None, help="a project file to open (.keymask.json)")
    parser.add_argument("--recover", choices=RECOVER_CHOICES, default="ask",
                        help="unsaved edits of a studio that was killed: ask, restore (yes) or leave (no) "
                             "(default: %(default)s)")
    return parser


def run_studio(project: Path | None = None, recover: str = "ask") -> int:
    """Open the window and run Qt's event loop until it closes; returns the exit code."""
    from PyQt6.QtWidgets import QApplication, QMessageBox

    from keymask.studio.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("KeyMask Studio")
    app.setOrganizationName("KeyMask")
    window = MainWindow(project, recover=recover)

    def report(kind, error, trace) -> None:  # a bug in a slot: say so instead of aborting the program
        traceback.print_exception(kind, error, trace)
        QMessageBox.critical(window, "KeyMask Studio", f"Something went wrong: {kind.__name__}: {error}\n\n"
                             "The details were printed to the terminal; your edits are in the recovery file.")

    previous_hook, sys.excepthook = sys.excepthook, report
    window.show()
    code = app.exec()
    sys.excepthook = previous_hook
    delete_window(window)
    return code


def delete_window(window) -> None:
    """Stop the window's threads and delete it and its OpenGL views now, while the QApplication lives.
    Left to Python's shutdown, a window can be freed after the application (the order of teardown is
    not defined), and freeing GL objects then can crash the process on its way out."""
    from PyQt6 import sip

    window.jobs.stop()
    window.resolver.stop()
    sip.delete(window)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_studio(args.project, args.recover)


if __name__ == "__main__":
    sys.exit(main())
