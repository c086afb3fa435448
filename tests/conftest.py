"""Shared fixtures: paths to the shared data and golden files, real Bandai clips, Blender."""

import os
import shutil
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KEYMASK_SHARED", REPO_ROOT.parent / "shared"))
BANDAI_DIR = SHARED / "data" / "bandai-namco"
PARITY_DIR = SHARED / "parity"

# CI sets this so that a missing tool fails the run instead of skipping a required test.
REQUIRE_ALL = os.environ.get("KEYMASK_REQUIRE_ALL", "") == "1" or os.environ.get("CI", "") == "true"


def _missing(what: str):
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required in CI but missing")
    pytest.skip(f"{what} is not available on this machine")


@pytest.fixture(scope="session")
def mediapipe_installed() -> None:
    """The photo extractor's mediapipe, installed apart with --no-deps (see .ci/run)."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        _missing("mediapipe (pip install --no-deps mediapipe==0.10.21)")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The tests run tiny models, for which a second thread costs more than it saves (and stalls
    on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    if not (PARITY_DIR / "golden.npz").exists():
        _missing(f"parity golden files ({PARITY_DIR})")
    return PARITY_DIR


@pytest.fixture(scope="session")
def bandai_dir() -> Path:
    if not (BANDAI_DIR / "SHA256SUMS").exists():
        _missing(f"the Bandai Namco archives ({BANDAI_DIR})")
    return BANDAI_DIR


@pytest.fixture(scope="session")
def bandai_clip(bandai_dir, tmp_path_factory):
    """Function that returns the path of one real Bandai BVH clip, extracted on first use."""
    out_dir = tmp_path_factory.mktemp("bandai_clips")
    members: dict[str, tuple[Path, str]] = {}

    def index() -> None:
        for archive in sorted(bandai_dir.glob("bandai-namco-*.tar.xz")):
            with tarfile.open(archive) as tar:
                for name in tar.getnames():
                    if name.endswith(".bvh"):
                        members[Path(name).name] = (archive, name)

    def get(file_name: str) -> Path:
        target = out_dir / file_name
        if target.exists():
            return target
        if not members:
            index()
        if file_name not in members:
            raise KeyError(f"{file_name} is not in the Bandai archives")
        archive, member = members[file_name]
        with tarfile.open(archive) as tar:
            source = tar.extractfile(member)
            with open(target, "wb") as f:
                shutil.copyfileobj(source, f)
        return target

    return get


@pytest.fixture(scope="session")
def blender_executable() -> str:
    path = shutil.which("blender")
    if path is None:
        _missing("Blender (apt-get install blender)")
    return path


@pytest.fixture(scope="session")
def tiny_clip_512(tmp_path_factory) -> Path:
    """A local CLIP weights file of the real architecture, tiny and random, with the 512-d text
    output the official MoMask models expect (clip.load infers heads as width // 64)."""
    import torch
    from clip.model import CLIP

    torch.manual_seed(0)
    model = CLIP(embed_dim=512, image_resolution=32, vision_layers=1, vision_width=64, vision_patch_size=16,
                 context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=1)
    path = tmp_path_factory.mktemp("clip") / "tiny-clip-512.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def official_model_dir(parity_dir) -> Path:
    """The official-format parity checkpoints (tiny random models made with the official code)."""
    return parity_dir / "checkpoints" / "t2m" / "mtrans_A"


@pytest.fixture(scope="session")
def parity_pipeline(official_model_dir, tiny_clip_512):

    from keymask.core.generation.pipeline import MotionPipeline

    return MotionPipeline.from_folder(official_model_dir, clip_weights=tiny_clip_512)


@pytest.fixture(scope="session")
def small_dataset(bandai_dir, tmp_path_factory):
    """A dataset built from the first 6 real clips (and their mirrors): (options, summary)."""
    from keymask.core.data.build import BuildOptions, build_dataset
    from keymask.core.data.sources import bandai_source

    root = tmp_path_factory.mktemp("build")
    options = BuildOptions(sources=[bandai_source(bandai_dir, root / "extracted")], output_dir=root / "dataset",
                           workers=2, limit=6, sequences=3, simultaneous=0)
    return options, build_dataset(options, progress=False)


# --- the HDM05 and CMU archives: a few files each, extracted once outside the repository -------

MOCAP_CACHE = Path(os.environ.get("KEYMASK_TEST_CACHE", Path.home() / ".cache" / "keymask" / "test-mocap"))
HDM05_ARCHIVE = SHARED / "data" / "hdm05-cuts" / "hdm05-cuts.tar.xz"
CMU_ARCHIVE = SHARED / "data" / "cmu-subset" / "cmu-subset.tar.xz"
HDM05_FILES = {
    "asf": "hdm05-cuts/asf/HDM_bd.asf",
    "sneak": "hdm05-cuts/amc/sneak2StepsLStart/HDM_bd_sneak2StepsLStart_001_120.amc",  # 232 frames, 120 fps
}
CMU_FILES = {
    "asf": "cmu-subset/cmu-asfamc/subjects/02/02.asf",
    "amc_walk": "cmu-subset/cmu-asfamc/subjects/02/02_01.amc",  # 343 frames, 120 fps, walks +Z
    "bvh_walk": "cmu-subset/semi-motion-style-transfer/walk.bvh",  # cm, reduced CMU names, 60 fps
    "iclone_walk": "cmu-subset/iclone-cmu-mocap/subjects/002/002_01.bvh",  # 02_01 again, RL_BoneRoot
    "iclone_plain": "cmu-subset/iclone-cmu-mocap/subjects/005/005_01.bvh",  # root OFFSET + relative channels
}


def _extract(archive: Path, members: dict[str, str]) -> dict[str, Path]:
    """Extract `members` of `archive` into the cache (once) and return their paths."""
    if not archive.exists():
        _missing(f"the archive {archive}")
    paths = {key: MOCAP_CACHE / member for key, member in members.items()}
    wanted = {member for key, member in members.items() if not paths[key].exists()}
    if wanted:
        with tarfile.open(archive, "r:xz") as tar:
            for member in tar:
                if member.name in wanted:
                    target = MOCAP_CACHE / member.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    partial = target.with_suffix(target.suffix + ".partial")
                    partial.write_bytes(tar.extractfile(member).read())
                    partial.replace(target)
    return paths


@pytest.fixture(scope="session")
def hdm05() -> dict[str, Path]:
    return _extract(HDM05_ARCHIVE, HDM05_FILES)


@pytest.fixture(scope="session")
def cmu() -> dict[str, Path]:
    return _extract(CMU_ARCHIVE, CMU_FILES)
