"""The layering is checked by a machine: core and conditioning never import studio or Qt."""

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extras"
    result = subprocess.run([lint], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout
    assert "never imports torch or scipy (fast start-up) KEPT" in result.stdout


def test_design_packages_import_without_hacks():
    code = ("import torch, numpy, clip, controlnet_aux, diffusers, cv2, PyQt6.QtCore, pyqtgraph; "
            "print(torch.__version__, clip.available_models()[:1])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ViT" in result.stdout or "RN50" in result.stdout


def test_core_imports_no_gui_or_conditioning_at_runtime():
    code = ("import sys, keymask.core.features, keymask.core.bvh.writer, keymask.core.data.build; "
            "bad = [m for m in sys.modules if m.startswith(('PyQt6', 'pyqtgraph', 'keymask.studio', 'keymask.conditioning'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_packages_resolve_to_the_design_folders():
    assert Path(importlib.import_module("keymask").__file__).resolve() == REPO_ROOT / "__init__.py"
    for name, folder in [("keymask.cli", "cli"), ("keymask.core", "core"), ("keymask.conditioning", "conditioning"),
                         ("keymask.studio", "studio"), ("keymask.resources", "resources")]:
        module = importlib.import_module(name)
        assert Path(module.__file__).parent.name == folder


def test_the_package_version_is_the_installed_distribution_version():
    import keymask

    assert keymask.__version__ == importlib.metadata.version("keymask-studio")
    result = subprocess.run([sys.executable, "-m", "keymask.cli.main", "--version"], capture_output=True, text=True)
    assert result.stdout.strip() == f"keymask {keymask.__version__}", result.stderr
