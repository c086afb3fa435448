"""Onion skins in the studio's 3D view: O (or View > Onion skins) draws the chosen motion faintly a few
frames before the playhead in one tint and after it in another, following the playhead; the setting is
kept with the studio's view settings. Real key presses and clicks under Xvfb (pytest-xvfb)."""

import numpy as np
from PyQt6.QtCore import Qt

from keymask.studio.figures import ONION_AFTER_COLOUR, ONION_BEFORE_COLOUR, ONION_STEPS
from keymask.studio.settings import load_view_settings
from test_studio_app import focus, open_window, scrub, studio_folders, walking_project  # noqa: F401
from test_studio_dope_sheet import pixels


def image_rgb(viewport) -> np.ndarray:
    return pixels(viewport.grab_image())


def test_onion_skins_follow_the_playhead_in_two_tints_and_are_remembered(qtbot, open_window, tmp_path):
    window = open_window(walking_project(tmp_path), recover="no")
    viewport, motion = window.viewport, window.project.motion
    scrub(qtbot, window, 30)
    focus(qtbot, window, window.timeline)  # the window's keys go to the active window
    qtbot.keyClick(window.timeline, Qt.Key.Key_3)  # from the side: the walk crosses the view
    viewport.frame_figure()
    qtbot.wait(50)
    without = image_rgb(viewport)
    assert viewport.drawn_onion_skins() == {}

    qtbot.keyClick(window.timeline, Qt.Key.Key_O)
    assert viewport.onion_action.isChecked()
    skins = viewport.drawn_onion_skins()
    assert sorted(skins) == sorted(30 + sign * step for step in ONION_STEPS for sign in (-1, 1))
    for frame, joints in skins.items():
        np.testing.assert_allclose(joints, motion[frame], atol=1e-6)

    # Drawn: before the playhead in the "before" tint, after it in the "after" tint, on either side of the figure.
    qtbot.wait(50)
    changed = np.abs(image_rgb(viewport) - without).max(axis=-1) > 12
    rgb = image_rgb(viewport)
    reddish = changed & (rgb[..., 0] > rgb[..., 1] + 10)
    greenish = changed & (rgb[..., 1] > rgb[..., 0] + 10)
    assert reddish.sum() > 100 and greenish.sum() > 100, (reddish.sum(), greenish.sum())
    x_before, x_after = (viewport.widget_points(motion[[21, 39], 0]) - [viewport.view.x(), 0])[:, 0]
    red_x, green_x = np.nonzero(reddish)[1].mean(), np.nonzero(greenish)[1].mean()
    assert (red_x - green_x) * (x_before - x_after) > 0  # each tint on its own side of the playhead
    assert ONION_BEFORE_COLOUR[0] > ONION_BEFORE_COLOUR[1] and ONION_AFTER_COLOUR[1] > ONION_AFTER_COLOUR[0]

    # They follow the playhead; near the start only the skins inside the motion are drawn.
    qtbot.keyClick(window.timeline, Qt.Key.Key_Right)
    assert sorted(viewport.drawn_onion_skins()) == [22, 25, 28, 34, 37, 40]
    np.testing.assert_allclose(viewport.drawn_onion_skins()[22], motion[22], atol=1e-6)
    scrub(qtbot, window, 4)
    assert sorted(viewport.drawn_onion_skins()) == [1, 7, 10, 13]

    # O typed in the prompt is text; the menu shows the key; the setting outlives the window.
    focus(qtbot, window, window.prompt_edit)
    qtbot.keyClicks(window.prompt_edit, " slowly")
    assert viewport.onion_action.isChecked() and " slowly" in window.project.prompt
    view_menu = {a.text(): a for a in window.menuBar().actions()}["&View"].menu()
    assert {a.text(): a.shortcut().toString() for a in view_menu.actions()}["Onion skins"] == "O"
    assert load_view_settings().onion_skins
    again = open_window(recover="no")
    assert again.viewport.onion_action.isChecked()
    focus(qtbot, again, again.timeline)
    qtbot.keyClick(again.timeline, Qt.Key.Key_O)
    assert not again.viewport.onion_action.isChecked() and not load_view_settings().onion_skins
    assert again.viewport.drawn_onion_skins() == {}
