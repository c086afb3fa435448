import subprocess
import sys

import pytest

from keymask.cli.main import DESCRIPTION, build_parser, main


def _help_text(argv):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv + ["--help"])
    assert exit_info.value.code == 0


def test_top_level_help_lists_subcommands(capsys):
    _help_text([])
    out = capsys.readouterr().out
    for command in ("generate", "edit", "data", "train", "eval", "convert"):
        assert command in out


@pytest.mark.parametrize("argv", [["data"], ["data", "build"], ["data", "preview"], ["convert"], ["generate"],
                                  ["edit"], ["train"], ["train", "rvq-vae"],
                                  ["train", "mask-transformer"], ["train", "residual-transformer"],
                                  ["train", "length-estimator"], ["train", "evaluator"], ["eval"]])
def test_every_subcommand_teaches(argv, capsys):
    _help_text(argv)
    out = capsys.readouterr().out
    assert "example" in out.lower() and len(out) > 300


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "keymask.cli.main", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "keymask data build" in result.stdout


def test_missing_source_is_one_clear_sentence(tmp_path, capsys):
    code = main(["data", "build", "--sources", "bandai", "--bandai-dir", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1  # a failure at run time; 2 is for usage errors
    assert err.startswith("keymask: error: ") and "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    from keymask.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"keymask {version('keymask-studio')}"


def test_generation_commands_run_on_one_thread_unless_told(monkeypatch):
    import os

    from keymask.cli import main as cli_main

    seen = {}
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    monkeypatch.setattr(cli_main, "_run", lambda args: seen.update(os.environ) or 0)
    cli_main.main(["convert", "in.bvh", "-o", "out.npy"])
    assert seen["OMP_NUM_THREADS"] == "1" and seen["OPENBLAS_NUM_THREADS"] == "2"  # the user's choice stands
    monkeypatch.delenv("OMP_NUM_THREADS")
    seen.clear()
    cli_main.main(["train", "evaluator", "--out", "runs/e"])
    assert "OMP_NUM_THREADS" not in seen  # training keeps every core


def test_every_error_a_user_sees_is_a_keymask_error_and_usage_errors_exit_2(tmp_path, capsys):
    from keymask.cli.errors import CommandError
    from keymask.core.bvh.reader import BvhError
    from keymask.core.errors import KeyMaskError, UsageError
    from keymask.core.generation.pipeline import GenerationInputError
    from keymask.core.text.prompts import PromptError, TextEncoderUnavailable

    assert all(issubclass(c, UsageError) for c in (CommandError, GenerationInputError, PromptError))
    assert issubclass(BvhError, KeyMaskError) and issubclass(BvhError, ValueError) and not issubclass(BvhError, UsageError)
    assert issubclass(TextEncoderUnavailable, KeyMaskError)
    assert main(["generate", "  "]) == 2  # usage: an empty prompt
    (tmp_path / "broken.bvh").write_text("HIERARCHY\n")
    assert main(["convert", str(tmp_path / "broken.bvh"), "-o", str(tmp_path / "o.npy")]) == 1  # a failure
    assert "1 failed" in DESCRIPTION and "2 usage" in DESCRIPTION and "1 failed" in build_parser().format_help()
