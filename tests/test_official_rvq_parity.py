"""Our RVQ-VAE reads official MoMask checkpoints and computes what the official code computed."""

import shutil

import numpy as np
import pytest
import torch

from keymask.core.models.official.options import CheckpointError
from keymask.core.models.official.rvq_vae import load_official_rvq_vae, our_to_official_state
from keymask.core.models.rvq_vae import RVQVAE, RVQVAEConfig


@pytest.fixture(scope="module")
def golden(parity_dir):
    return dict(np.load(parity_dir / "golden.npz"))


@pytest.fixture(scope="module")
def official_folder(parity_dir):
    return parity_dir / "checkpoints" / "t2m" / "rvq_A"


@pytest.fixture(scope="module")
def official_model(official_folder):
    return load_official_rvq_vae(official_folder)


def test_loads_the_configuration_from_opt_txt(official_model):
    model, mean, std = official_model
    config = model.config
    assert (config.input_dim, config.nb_code, config.code_dim, config.width, config.depth) == (263, 64, 32, 64, 2)
    assert (config.num_quantizers, config.shared_codebook, config.norm, config.activation) == (3, False, None, "relu")
    assert config.quantize_dropout_prob == 0.2 and config.ema_decay == 0.99
    assert not model.training
    assert mean.shape == (263,) and std.shape == (263,) and mean.dtype == np.float32


def test_encode_matches_official_indices_exactly(official_model, golden):
    model, _, _ = official_model
    indices = model.encode(torch.from_numpy(golden["rvq_input"]))
    np.testing.assert_array_equal(indices.numpy(), golden["rvq_code_idx"])


def test_decode_matches_official(official_model, golden):
    model, _, _ = official_model
    with torch.no_grad():
        decoded = model.decode(torch.from_numpy(golden["rvq_code_idx"]))
    np.testing.assert_allclose(decoded.numpy(), golden["rvq_decoded_from_idx"], rtol=0, atol=1e-4)


def test_decode_of_padded_generated_ids_matches_official(official_model, golden):
    model, _, _ = official_model
    assert (golden["gen_all_ids"] == -1).any()
    with torch.no_grad():
        decoded = model.decode(torch.from_numpy(golden["gen_all_ids"]))
    np.testing.assert_allclose(decoded.numpy(), golden["gen_decoded"], rtol=0, atol=1e-4)


# ---- official-format checkpoints written here ------------------------------------------------

def write_official_options(path, config: RVQVAEConfig, **overrides):
    options = dict(dim_pose=config.input_dim, nb_code=config.nb_code, code_dim=config.code_dim,
                   output_emb_width=config.code_dim, down_t=config.down_t, stride_t=config.stride_t,
                   width=config.width, depth=config.depth, dilation_growth_rate=config.dilation_growth_rate,
                   vq_act=config.activation, vq_norm=config.norm, num_quantizers=config.num_quantizers,
                   shared_codebook=config.shared_codebook, quantize_dropout_prob=config.quantize_dropout_prob,
                   mu=config.ema_decay, name="rvq_test", dataset_name="t2m")
    options.update(overrides)
    lines = ["------------ Options -------------", *(f"{k}: {v}" for k, v in sorted(options.items())),
             "-------------- End ----------------"]
    path.write_text("\n".join(lines) + "\n")


def write_official_folder(folder, model: RVQVAE, state=None):
    (folder / "model").mkdir(parents=True)
    (folder / "meta").mkdir()
    write_official_options(folder / "opt.txt", model.config)
    state = our_to_official_state(model) if state is None else state
    torch.save({"vq_model": state, "ep": 0, "total_it": 0}, folder / "model" / "net_best_fid.tar")
    np.save(folder / "meta" / "mean.npy", np.zeros(model.config.input_dim, np.float32))
    np.save(folder / "meta" / "std.npy", np.ones(model.config.input_dim, np.float32))
    return folder


@pytest.mark.parametrize("config", [
    RVQVAEConfig(input_dim=10, nb_code=12, code_dim=8, down_t=2, width=32, depth=3, dilation_growth_rate=2,
                 activation="gelu", norm="LN", num_quantizers=4, shared_codebook=True, ema_decay=0.9),
    RVQVAEConfig(input_dim=7, nb_code=20, code_dim=16, down_t=1, width=24, depth=1, dilation_growth_rate=3,
                 activation="silu", norm="BN", num_quantizers=2, shared_codebook=False,
                 quantize_dropout_prob=0.5),
], ids=["shared-gelu-LN", "separate-silu-BN"])
def test_loads_an_official_checkpoint_of_another_configuration(tmp_path, config):
    torch.manual_seed(0)
    source = RVQVAE(config).train()
    source(torch.randn(3, 16, config.input_dim))  # fill the codebooks (and the batch-norm statistics)
    source.eval()
    folder = write_official_folder(tmp_path / "rvq_test", source)
    stored = torch.load(folder / "model" / "net_best_fid.tar", weights_only=True)["vq_model"]
    codebook_keys = sorted(k for k in stored if k.startswith("quantizer."))
    assert codebook_keys == [f"quantizer.layers.{q}.codebook" for q in range(config.num_quantizers)]

    loaded, mean, std = load_official_rvq_vae(folder)
    assert loaded.config == config
    motion = torch.randn(2, 16, config.input_dim)
    indices = source.encode(motion)
    assert torch.equal(loaded.encode(motion), indices)
    with torch.no_grad():
        assert torch.equal(loaded.decode(indices), source.decode(indices))


# ---- errors ----------------------------------------------------------------------------------

def copy_of(official_folder, tmp_path):
    return shutil.copytree(official_folder, tmp_path / "rvq_copy")


def test_truncated_checkpoint(official_folder, tmp_path):
    folder = copy_of(official_folder, tmp_path)
    weights = folder / "model" / "net_best_fid.tar"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="net_best_fid.tar"):
        load_official_rvq_vae(folder)


def test_transformer_checkpoint_is_the_wrong_kind(official_folder, parity_dir, tmp_path):
    folder = copy_of(official_folder, tmp_path)
    shutil.copy(parity_dir / "checkpoints" / "t2m" / "mtrans_A" / "model" / "latest.tar",
                folder / "model" / "latest.tar")
    with pytest.raises(CheckpointError, match=r"latest\.tar.*'vq_model'"):
        load_official_rvq_vae(folder, "latest.tar")


def test_transformer_folder_is_the_wrong_kind(parity_dir):
    with pytest.raises(CheckpointError, match=r"opt\.txt.*dim_pose"):
        load_official_rvq_vae(parity_dir / "checkpoints" / "t2m" / "mtrans_A", "latest.tar")


def test_shape_mismatch(official_folder, tmp_path):
    folder = copy_of(official_folder, tmp_path)
    model, _, _ = load_official_rvq_vae(official_folder)
    write_official_options(folder / "opt.txt", model.config, width=48)
    with pytest.raises(CheckpointError, match=r"net_best_fid\.tar.*shape"):
        load_official_rvq_vae(folder)


def test_missing_weight(tmp_path):
    torch.manual_seed(0)
    model = RVQVAE(RVQVAEConfig(input_dim=6, nb_code=8, code_dim=4, width=8, depth=1, num_quantizers=2))
    state = our_to_official_state(model)
    del state["quantizer.layers.1.codebook"]
    folder = write_official_folder(tmp_path / "rvq_missing", model, state)
    with pytest.raises(CheckpointError, match=r"net_best_fid\.tar.*quantizer\.layers\.1\.codebook"):
        load_official_rvq_vae(folder)


def test_missing_options_file(official_folder, tmp_path):
    folder = copy_of(official_folder, tmp_path)
    (folder / "opt.txt").unlink()
    with pytest.raises(CheckpointError, match=r"opt\.txt"):
        load_official_rvq_vae(folder)


def test_missing_statistics(official_folder, tmp_path):
    folder = copy_of(official_folder, tmp_path)
    (folder / "meta" / "std.npy").unlink()
    with pytest.raises(CheckpointError, match=r"std\.npy"):
        load_official_rvq_vae(folder)
