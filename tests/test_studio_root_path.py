"""A root path drawn on the floor of the studio's 3D view: D enters draw-path mode, a mouse drag on the
floor draws the path (timed from the playhead to the end of the timeline), Generate follows it with the
shipped model as the command line's --path does, the project keeps it, Shift+D clears it. Real keys and
mouse events under Xvfb (pytest-xvfb)."""

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtWidgets import QApplication

from keymask.studio.project import load_project
from test_studio_app import GENERATION_TIMEOUT_MS, focus, open_window, studio_folders  # noqa: F401

CTRL = Qt.KeyboardModifier.ControlModifier
FPS = 20


def generate_by_keyboard(qtbot, window) -> None:
    focus(qtbot, window, window.prompt_edit)
    with qtbot.waitSignal(window.jobs.worker.finished, timeout=GENERATION_TIMEOUT_MS):
        qtbot.keyClick(window.prompt_edit, Qt.Key.Key_Return, CTRL)
    assert not window.error_label.isVisible(), window.error_label.text()


def view_point(viewport, floor_xz: np.ndarray) -> QPoint:
    """Where a floor point (x, z) of the chosen motion is drawn, in pixels of the GL view."""
    x, y = viewport.widget_points(np.array([[floor_xz[0], viewport.floor, floor_xz[1]]]))[0] \
        - [viewport.view.x(), viewport.view.y()]
    assert 0 <= x < viewport.view.width() and 0 <= y < viewport.view.height(), (x, y)
    return QPoint(round(x), round(y))


def test_a_path_drawn_on_the_floor_is_followed_by_generation_and_kept(qtbot, open_window, tmp_path):
    window = open_window(recover="no")
    viewport, view = window.viewport, window.viewport.view
    focus(qtbot, window, window.prompt_edit)
    qtbot.keyClicks(window.prompt_edit, "a person walks forward")
    qtbot.mouseClick(window.estimate_box, Qt.MouseButton.LeftButton, pos=QPoint(6, window.estimate_box.height() // 2))
    focus(qtbot, window, window.seconds_spin)
    qtbot.keyClick(window.seconds_spin, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(window.seconds_spin, "4")
    qtbot.keyClick(window.seconds_spin, Qt.Key.Key_Tab)
    generate_by_keyboard(qtbot, window)
    walk = window.project.motion.copy()
    assert walk.shape == (80, 22, 3)

    # From the top (7), D, then a drag from where the walk starts, bending 0.6 m to one side, to where it ends.
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_7)
    qtbot.keyClick(window.timeline, Qt.Key.Key_D)
    assert viewport.drawing_path and not viewport.posing
    start, end = walk[0, 0, [0, 2]], walk[-1, 0, [0, 2]]
    along = (end - start) / np.linalg.norm(end - start)
    side = np.array([along[1], -along[0]])
    s = np.linspace(0.0, 1.0, 25)[:, None]
    wanted = start + s * (end - start) + 0.6 * np.sin(np.pi * s) * side  # (25, 2)
    points = [view_point(viewport, p) for p in wanted]
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(view, point)
    assert len(viewport.shown_root_path()) > 10  # the stroke shows while it is drawn
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=points[-1])
    assert window.stack.undoText() == "Draw root path" and not window.error_label.isVisible()
    path = window.project.root_path
    drawn = path.points
    np.testing.assert_allclose(drawn[[0, -1]], wanted[[0, -1]], atol=0.03)  # where the mouse was, on the floor
    gaps = np.min(np.linalg.norm(drawn[:, None] - wanted[None], axis=-1), axis=1)
    assert gaps.max() < 0.05
    assert path.times[0] == 0.0 and path.times[-1] == 79 / FPS  # the playhead at 0: the whole timeline
    np.testing.assert_allclose(viewport.shown_root_path(), drawn)

    # Ctrl+Enter: the pelvis follows the path within a few centimetres.
    generate_by_keyboard(qtbot, window)
    motion = window.project.motion
    assert motion.shape == (80, 22, 3)
    distance = np.linalg.norm(motion[:, 0, [0, 2]] - path.positions(len(motion), FPS), axis=-1)
    assert distance.mean() < 0.03 and distance.max() < 0.08, (distance.mean(), distance.max())
    middle = motion[40, 0, [0, 2]] - (start + 0.5 * (end - start))
    assert middle @ side > 0.4  # it went round the bend, as the walk without the path did not
    assert abs((walk[40, 0, [0, 2]] - (start + 0.5 * (end - start))) @ side) < 0.3

    # Saved and opened again, the path is there; Shift+D clears it (one undo step), Ctrl+Z gives it back.
    window.save_to(tmp_path / "path.keymask.json")
    kept = load_project(tmp_path / "path.keymask.json").root_path
    np.testing.assert_array_equal(kept.points, drawn)
    np.testing.assert_array_equal(kept.times, path.times)
    again = open_window(tmp_path / "path.keymask.json", recover="no")
    np.testing.assert_allclose(again.viewport.shown_root_path(), drawn)
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    assert window.project.root_path is None and viewport.shown_root_path() is None
    assert window.stack.undoText() == "Clear root path"
    qtbot.keyClick(window.timeline, Qt.Key.Key_Z, CTRL)
    np.testing.assert_array_equal(window.project.root_path.points, drawn)


def test_a_click_in_draw_path_mode_draws_no_path_and_says_so(qtbot, open_window):
    window = open_window(recover="no")
    focus(qtbot, window, window.timeline)
    qtbot.keyClick(window.timeline, Qt.Key.Key_7)
    qtbot.keyClick(window.timeline, Qt.Key.Key_D)
    steps = window.stack.count()
    view = window.viewport.view
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view.rect().center())
    assert window.stack.count() == steps and window.project.root_path is None
    assert window.error_label.text() == "Drag along the floor to draw a path: a click draws none."
    # Esc in the 3D view leaves the mode; P (pose mode) and D take turns.
    focus(qtbot, window, view)
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not window.viewport.drawing_path
    qtbot.keyClick(view, Qt.Key.Key_D)
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert window.viewport.posing and not window.viewport.drawing_path
    assert QApplication.focusWidget() is view


def test_a_project_file_keeps_its_root_path_and_refuses_one_that_cannot_be_followed():
    from keymask.conditioning.paths import RootPath
    from keymask.studio.project import Project, ProjectFileError, project_from_json, project_to_json

    document = project_to_json(Project(root_path=RootPath([[0.0, 0.0], [0.5, 2.0]], [0.0, 3.0])))
    assert document["root_path"] == {"points": [[0.0, 0.0], [0.5, 2.0]], "times": [0.0, 3.0]}
    read = project_from_json(document).root_path
    np.testing.assert_array_equal(read.points, [[0.0, 0.0], [0.5, 2.0]])
    del document["root_path"]  # a file written before root paths
    assert project_from_json(document).root_path is None
    document["root_path"] = {"points": [[0.0, 0.0], [0.5, 2.0]], "times": [3.0, 1.0]}
    with pytest.raises(ProjectFileError, match=r"^Project file <data> has a root path that cannot be followed: "
                                                r"A path's times must start at 0 s or later and increase"):
        project_from_json(document)
