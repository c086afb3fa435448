import argparse
import subprocess
import sys
from pathlib import Path

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


def _without(modules: list[str], argv: list[str], cwd) -> subprocess.CompletedProcess:
    """Run `keymask argv` in a process where importing any of `modules` fails, as in a base install."""
    code = ("import sys\n"
            f"for name in {modules!r}:\n"
            "    sys.modules[name] = None  # import raises ModuleNotFoundError\n"
            "from keymask.cli.main import main\n"
            f"sys.exit(main({argv!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=300)


BASE_INSTALL_LEAVES_OUT = ["torch", "torchvision", "clip", "diffusers", "transformers", "controlnet_aux",
                           "sentence_transformers"]


def test_the_base_install_makes_motions_and_lifts_key_poses_without_torch(tmp_path, mediapipe_installed):
    made = _without(BASE_INSTALL_LEAVES_OUT, ["generate", "a person walks, then bows", "--seed", "0", "-o", "m.bvh"],
                    tmp_path)
    assert made.returncode == 0, made.stderr[-1500:]
    assert (tmp_path / "m.bvh").exists() and (tmp_path / "m.npy").exists()
    photo = Path(__file__).parent / "data" / "person.jpg"
    extracted = _without(BASE_INSTALL_LEAVES_OUT, ["pose", "extract", str(photo), "-o", "pose.json"], tmp_path)
    assert extracted.returncode == 0, extracted.stderr[-1500:]
    lifted = _without(BASE_INSTALL_LEAVES_OUT, ["pose", "lift", "pose.json", "-o", "pose3d.json"], tmp_path)
    assert lifted.returncode == 0, lifted.stderr[-1500:]
    keyed = _without(BASE_INSTALL_LEAVES_OUT, ["generate", "a person waves", "--key-pose", "pose3d.json@1s",
                                              "--seed", "0", "-o", "k.bvh"], tmp_path)
    assert keyed.returncode == 0, keyed.stderr[-1500:]


def test_a_feature_of_an_optional_install_names_the_install_command(tmp_path):
    trained = _without(["torch"], ["train", "evaluator", "--out", "runs/e"], tmp_path)
    assert trained.returncode == 1 and "Traceback" not in trained.stderr
    assert "pip install 'keymask-studio[train]'" in trained.stderr and trained.stderr.count("\n") == 1


@pytest.mark.parametrize("option", ["--mix-captions", "--pull-share"])
def test_a_share_outside_zero_to_one_is_refused_before_training(option, tmp_path, capsys):
    from keymask.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(["train", "mask-transformer", "--rvq", str(tmp_path), "--out", str(tmp_path / "run"), option, "1.5"])
    assert stopped.value.code == 2
    assert "'1.5' is not a share: give a number from 0 to 1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_negative_balance_power_is_refused_before_training(tmp_path, capsys):
    from keymask.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(["train", "residual-transformer", "--rvq", str(tmp_path), "--out", str(tmp_path / "run"),
              "--balance-power", "-1"])
    assert stopped.value.code == 2
    assert "'-1' is not a power: give a number from 0 up" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def _every_parser(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _every_parser(child)


def test_no_help_text_shows_an_escaped_percent_sign():
    parsers = list(_every_parser(build_parser()))
    assert len(parsers) > 20  # every command and subcommand, not the top level alone
    for parser in parsers:
        text = parser.format_help()
        assert "%%" not in text and "%(" not in text, parser.prog
