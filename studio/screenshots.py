"""Screenshots of the real studio window for the docs, made the way an animator makes the scene:

    python -m keymask.studio.screenshots docs/

writes studio_main.png (the window after a generation with two key poses), studio_pose_canvas.png
(the key pose panel: the 2D canvas and its 3D lift) and studio_samples.png (three samples side by
side). Generation runs on the shipped model with a fixed seed, so the pictures change only when the
studio or the model does. Without a display it runs itself again under `xvfb-run` (never under
QT_QPA_PLATFORM=offscreen, where the 3D view has no OpenGL). Recovery files and settings go to a
temporary folder, so the user's are not touched.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

PROMPT = "a person walks forward and waves with the right hand"
SEED = 3
SECONDS = 5.0
WINDOW_SIZE = (1600, 1000)
SCREEN = "-screen 0 1920x1200x24"
# Key poses: (time in seconds, COCO-18 joint -> (x, y) moved on the default pose, in canvas fractions).
KEYS = (
    (1.5, {"right_elbow": (0.30, 0.22), "right_wrist": (0.28, 0.08)}),  # right hand raised high
    (3.5, {"right_elbow": (0.28, 0.27), "right_wrist": (0.16, 0.27),  # arms held out to the sides
           "left_elbow": (0.72, 0.27), "left_wrist": (0.84, 0.27)}),
)


def _rerun_under_xvfb(argv: list[str]) -> int:
    if shutil.which("xvfb-run") is None:
        print("keymask studio screenshots: no display and no xvfb-run: install xvfb or run under a display.",
              file=sys.stderr)
        return 2
    os.execvp("xvfb-run", ["xvfb-run", "-a", "-s", SCREEN, sys.executable, "-m", "keymask.studio.screenshots",
                           *argv])


def key_pose(moves: dict[str, tuple[float, float]]):
    """The canvas's default pose with some joints moved (fractions of the 512 x 512 canvas)."""
    from keymask.conditioning.poses import COCO18_JOINTS
    from keymask.studio.main_window import DEFAULT_CANVAS
    from keymask.studio.pose_canvas import default_pose

    pose = default_pose(DEFAULT_CANVAS)
    for name, (x, y) in moves.items():
        pose.keypoints[COCO18_JOINTS.index(name)] = (x * DEFAULT_CANVAS[0], y * DEFAULT_CANVAS[1])
    return pose


def take(out_dir: Path) -> list[Path]:
    from PyQt6.QtCore import QEventLoop
    from PyQt6.QtTest import QTest
    from PyQt6.QtWidgets import QApplication

    from keymask.core.spec import HUMANML3D
    from keymask.studio.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])  # kept: the window lives in it
    app.setApplicationName("KeyMask Studio")
    window = MainWindow(recover="no")
    window.confirm_close = False
    window.resize(*WINDOW_SIZE)
    window.show()
    QTest.qWait(300)

    # 1. The scene: prompt, length, seed, three samples, two key poses.
    window.prompt_edit.setPlainText(PROMPT)
    window.estimate_box.setChecked(False)
    window.seconds_spin.setValue(SECONDS)
    window.seed_spin.setValue(SEED)
    window.samples_spin.setValue(3)
    for seconds, moves in KEYS:
        window.set_frame(round(seconds * HUMANML3D.fps))
        window.add_key(window.frame, key_pose(moves))

    # 2. Generate and wait for the worker.
    loop = QEventLoop()
    done = {}
    window.jobs.worker.finished.connect(lambda job, result: (done.update(ok=True), loop.quit()))
    window.jobs.worker.failed.connect(lambda job, message: (done.update(error=message), loop.quit()))
    window.generate()
    loop.exec()
    if "error" in done:
        raise RuntimeError(f"Generation failed: {done['error']}")

    # 3. Pictures: the chosen sample overlaid with its key ghosts, the pose panel, the samples side by side.
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def save(widget, name: str) -> None:
        QTest.qWait(300)  # let the 3D view draw
        path = out_dir / name
        if not widget.grab().save(str(path)):
            raise OSError(f"Could not write {path}.")
        written.append(path)

    window.layout_box.setCurrentIndex(1)  # overlaid
    window.select_key(0)
    window.set_frame(round(KEYS[0][0] * HUMANML3D.fps))
    save(window, "studio_main.png")
    window.select_key(1)
    save(window.pose_group, "studio_pose_canvas.png")
    window.layout_box.setCurrentIndex(0)  # side by side
    window.set_frame(round(KEYS[1][0] * HUMANML3D.fps))
    save(window.motion_area, "studio_samples.png")
    window.stack.setClean()
    window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        print("keymask studio screenshots: the 3D view needs OpenGL, which QT_QPA_PLATFORM=offscreen lacks; "
              "unset it (xvfb-run is used when there is no display).", file=sys.stderr)
        return 2
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return _rerun_under_xvfb(argv)
    out_dir = Path(argv[0]) if argv else Path("docs")
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["KEYMASK_STUDIO_RECOVERY_DIR"] = str(Path(scratch) / "recovery")
        os.environ["KEYMASK_STUDIO_CONFIG_DIR"] = str(Path(scratch) / "config")
        for path in take(out_dir):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
