"""Our transformers and decoding against the official MoMask goldens, and the official checkpoint loader.

Goldens (/work/shared/parity/README.md): official logits are (B, V, N); ours are (B, N, V).
The loader tests build official-format folders of another configuration from hand-written official
key names, independent of our own key mapping.
"""

import math
import shutil

import numpy as np
import pytest
import torch

from keymask.core.backends.torch_backend import TorchMaskTransformer, TorchResidualTransformer
from keymask.core.generation.masked_decoding import decode_base_tokens, decode_residual_layers, edit_base_tokens
from keymask.core.models.mask_transformer import MaskTransformer
from keymask.core.models.official.options import CheckpointError
from keymask.core.models.official.transformers import (
    load_official_mask_transformer,
    load_official_residual_transformer,
)


@pytest.fixture(scope="module")
def golden(parity_dir):
    return {k: torch.from_numpy(v) for k, v in np.load(parity_dir / "golden.npz").items()}


@pytest.fixture(scope="module")
def mask_model(parity_dir):
    return load_official_mask_transformer(parity_dir / "checkpoints" / "t2m" / "mtrans_A")


@pytest.fixture(scope="module")
def residual_model(parity_dir):
    return load_official_residual_transformer(parity_dir / "checkpoints" / "t2m" / "rtrans_A")


def official_layout(logits):  # ours (B, N, V) -> official (B, V, N)
    return logits.transpose(1, 2)


# ----------------------------------------------------------------------------------------------
# Parity with the goldens


def test_loaded_configs_come_from_opt_txt(mask_model, residual_model):
    c = mask_model.config
    assert (c.num_tokens, c.code_dim, c.latent_dim, c.ff_size, c.n_layers, c.n_heads, c.text_dim) == \
        (64, 32, 64, 128, 2, 4, 512)
    r = residual_model.config
    assert (r.num_quantizers, r.share_weight, r.shared_codebook, r.cond_drop_prob) == (3, True, False, 0.2)
    assert not mask_model.training and not residual_model.training


@torch.no_grad()
def test_mask_logits_match(golden, mask_model):
    ids, text, padding = golden["mask_input_ids"], golden["text_embedding"], golden["mask_padding_mask"]
    cond = official_layout(mask_model(ids, text, padding))
    uncond = official_layout(mask_model(ids, text, padding, drop_condition=True))
    guided = official_layout(mask_model.guided_logits(ids, text, padding, 4.0))
    torch.testing.assert_close(cond, golden["mask_logits"], atol=1e-4, rtol=0)
    torch.testing.assert_close(uncond, golden["mask_logits_uncond"], atol=1e-4, rtol=0)
    torch.testing.assert_close(guided, golden["mask_logits_cfg4"], atol=1e-4, rtol=0)


def test_greedy_base_generation_matches(golden, mask_model):
    ids = decode_base_tokens(TorchMaskTransformer(mask_model), golden["text_embedding"].numpy(),
                             golden["token_lens"].numpy(), steps=10, guidance_scale=4.0, greedy=True)
    np.testing.assert_array_equal(ids, golden["gen_base_ids"].numpy())


@torch.no_grad()
def test_residual_logits_match(golden, residual_model):
    layer = int(golden["res_active_layer"])
    history = residual_model.history_embedding(golden["rvq_code_idx"][..., :layer])
    logits = residual_model.guided_logits(history, layer, golden["text_embedding"], golden["mask_padding_mask"], 5.0)
    torch.testing.assert_close(official_layout(logits), golden["res_logits_cfg5"], atol=1e-4, rtol=0)


def test_greedy_residual_generation_matches(golden, residual_model):
    all_ids = decode_residual_layers(TorchResidualTransformer(residual_model), golden["gen_base_ids"].numpy(),
                                     golden["text_embedding"].numpy(), golden["token_lens"].numpy(),
                                     guidance_scale=5.0, greedy=True)
    np.testing.assert_array_equal(all_ids, golden["gen_all_ids"].numpy())


def test_edit_matches(golden, mask_model):
    source = golden["edit_source_ids"].numpy()
    ids = edit_base_tokens(TorchMaskTransformer(mask_model), source, golden["edit_mask"].numpy(),
                           golden["text_embedding"][:1].numpy(), np.array([source.shape[1]]), steps=10,
                           guidance_scale=4.0, greedy=True)
    np.testing.assert_array_equal(ids, golden["edit_output_ids"].numpy())


@torch.no_grad()
def test_loaded_model_survives_our_format(tmp_path, golden, mask_model):
    mask_model.save_pretrained(tmp_path / "m")
    again = MaskTransformer.from_pretrained(tmp_path / "m")
    ids, text, padding = golden["mask_input_ids"], golden["text_embedding"], golden["mask_padding_mask"]
    torch.testing.assert_close(again(ids, text, padding), mask_model(ids, text, padding), atol=0, rtol=0)


# ----------------------------------------------------------------------------------------------
# Official-format folders of another configuration


def write_opt(path, options: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["------------ Options -------------", *(f"{k}: {v}" for k, v in options.items()),
             "-------------- End ----------------"]
    path.write_text("\n".join(lines) + "\n")


def official_positions(d: int, max_len: int = 5000) -> torch.Tensor:  # (max_len, 1, d), in float64 then cast
    position = np.arange(max_len)[:, None]
    angle = position * np.exp(np.arange(0, d, 2) * (-math.log(10000.0) / d))[None]
    table = np.zeros((max_len, d))
    table[:, 0::2], table[:, 1::2] = np.sin(angle), np.cos(angle)
    return torch.from_numpy(table).float()[:, None]


def official_trunk(g, d: int, ff: int, layers: int, code_dim: int, head_out: int) -> dict:
    """Keys shared by both official transformers, with the official names and shapes."""
    r = lambda *shape: torch.randn(*shape, generator=g) * 0.1  # noqa: E731
    state = {"input_process.poseEmbedding.weight": r(d, code_dim), "input_process.poseEmbedding.bias": r(d),
             "position_enc.pe": official_positions(d)}
    for i in range(layers):
        p = f"seqTransEncoder.layers.{i}."
        state.update({p + "self_attn.in_proj_weight": r(3 * d, d), p + "self_attn.in_proj_bias": r(3 * d),
                      p + "self_attn.out_proj.weight": r(d, d), p + "self_attn.out_proj.bias": r(d),
                      p + "linear1.weight": r(ff, d), p + "linear1.bias": r(ff),
                      p + "linear2.weight": r(d, ff), p + "linear2.bias": r(d),
                      p + "norm1.weight": 1 + r(d), p + "norm1.bias": r(d),
                      p + "norm2.weight": 1 + r(d), p + "norm2.bias": r(d)})
    state.update({"cond_emb.weight": r(d, 512), "cond_emb.bias": r(d),
                  "output_process.dense.weight": r(d, d), "output_process.dense.bias": r(d),
                  "output_process.LayerNorm.weight": 1 + r(d), "output_process.LayerNorm.bias": r(d),
                  "output_process.poseFinal.weight": r(head_out, d), "output_process.poseFinal.bias": r(head_out)})
    return state


VQ = dict(nb_code=24, code_dim=16, num_quantizers=4, shared_codebook=False)
MODEL = dict(latent_dim=32, ff_size=48, n_layers=3, n_heads=8, dropout=0.1)


def official_mask_folder(root, seed: int = 0):
    """<root>/t2m/{rvq_B, mtrans_B} with official files; returns (folder, official state)."""
    g = torch.Generator().manual_seed(seed)
    write_opt(root / "t2m" / "rvq_B" / "opt.txt", dict(name="rvq_B", dataset_name="t2m", **VQ))
    folder = root / "t2m" / "mtrans_B"
    write_opt(folder / "opt.txt", dict(name="mtrans_B", dataset_name="t2m", vq_name="rvq_B", cond_drop_prob=0.1,
                                       **MODEL))
    state = official_trunk(g, 32, 48, 3, 16, head_out=24)
    state["token_emb.weight"] = torch.randn(24 + 2, 16, generator=g)
    (folder / "model").mkdir(parents=True)
    torch.save({"t2m_transformer": state, "ep": 3, "total_it": 10}, folder / "model" / "latest.tar")
    return folder, state


def official_residual_folder(root, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    write_opt(root / "t2m" / "rvq_B" / "opt.txt", dict(name="rvq_B", dataset_name="t2m", **VQ))
    folder = root / "t2m" / "rtrans_B"
    write_opt(folder / "opt.txt", dict(name="rtrans_B", dataset_name="t2m", vq_name="rvq_B", cond_drop_prob=0.2,
                                       share_weight=False, **MODEL))
    state = official_trunk(g, 32, 48, 3, 16, head_out=16)
    q, v, c = 4, 24 + 1, 16
    state.update({"quant_emb.weight": torch.randn(32, q, generator=g), "quant_emb.bias": torch.randn(32, generator=g),
                  "token_embed_weight": torch.randn(q - 1, v, c, generator=g),
                  "output_proj_weight": torch.randn(q - 1, v, c, generator=g),
                  "output_proj_bias": torch.randn(q, v, generator=g)})
    (folder / "model").mkdir(parents=True)
    torch.save({"res_transformer": state, "ep": 3, "total_it": 10}, folder / "model" / "net_best_fid.tar")
    return folder, state


def test_official_mask_transformer_of_another_configuration_loads_strictly(tmp_path):
    folder, state = official_mask_folder(tmp_path)
    model = load_official_mask_transformer(folder)
    c = model.config
    assert (c.num_tokens, c.code_dim, c.latent_dim, c.ff_size, c.n_layers, c.n_heads) == (24, 16, 32, 48, 3, 8)
    ours = model.state_dict()
    assert torch.equal(ours["head.out.weight"], state["output_process.poseFinal.weight"])
    assert torch.equal(ours["head.norm.bias"], state["output_process.LayerNorm.bias"])
    assert torch.equal(ours["encoder.layers.2.self_attn.in_proj_weight"],
                       state["seqTransEncoder.layers.2.self_attn.in_proj_weight"])
    assert torch.equal(ours["input_proj.weight"], state["input_process.poseEmbedding.weight"])
    # Every official weight (the positional table aside) is somewhere in ours, and nothing else is.
    assert len(ours) == len(state) - 1
    assert sorted(float(t.sum()) for t in ours.values()) == \
        sorted(float(t.sum()) for k, t in state.items() if k != "position_enc.pe")
    ids = torch.randint(0, 24, (2, 5))
    logits = model.guided_logits(ids, torch.randn(2, 512), torch.zeros(2, 5, dtype=torch.bool), 3.0)
    assert logits.shape == (2, 5, 24) and torch.isfinite(logits).all()


def test_official_residual_transformer_of_another_configuration_loads_strictly(tmp_path):
    folder, state = official_residual_folder(tmp_path)
    model = load_official_residual_transformer(folder)
    c = model.config
    assert (c.num_tokens, c.num_quantizers, c.share_weight, c.shared_codebook, c.n_layers) == (24, 4, False, False, 3)
    weights, bias = model.output_tables()
    assert torch.equal(weights, state["output_proj_weight"]) and torch.equal(bias, state["output_proj_bias"])
    assert torch.equal(model.embedding_tables(), state["token_embed_weight"])
    assert torch.equal(model.layer_emb.weight, state["quant_emb.weight"])
    assert len(model.state_dict()) == len(state) - 1

    # The official output projection with a bias: out += out + bias, i.e. 2 (h . W) + b.
    with torch.no_grad():
        captured = {}
        model.head.register_forward_hook(lambda module, args, out: captured.setdefault("h", out))
        history, text = torch.randn(1, 5, 16), torch.randn(1, 512)
        logits = model(history, 2, text, torch.zeros(1, 5, dtype=torch.bool))
        expected = 2 * captured["h"] @ state["output_proj_weight"][1].T + state["output_proj_bias"][1]
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)


def test_num_tokens_can_be_given_without_the_rvq_folder(tmp_path):
    folder, _ = official_mask_folder(tmp_path)
    shutil.rmtree(tmp_path / "t2m" / "rvq_B")
    with pytest.raises(CheckpointError, match="num_tokens"):
        load_official_mask_transformer(folder)
    opt = (folder / "opt.txt").read_text().replace("latent_dim", "code_dim: 16\nlatent_dim")
    (folder / "opt.txt").write_text(opt)
    assert load_official_mask_transformer(folder, num_tokens=24).config.num_tokens == 24


def test_a_checkpoint_of_the_other_kind_is_refused(tmp_path):
    folder, _ = official_residual_folder(tmp_path)
    shutil.copytree(folder, tmp_path / "t2m" / "mtrans_C")
    (tmp_path / "t2m" / "mtrans_C" / "model" / "net_best_fid.tar").rename(
        tmp_path / "t2m" / "mtrans_C" / "model" / "latest.tar")
    with pytest.raises(CheckpointError, match="no 't2m_transformer' entry"):
        load_official_mask_transformer(tmp_path / "t2m" / "mtrans_C")


def test_a_shape_mismatch_names_the_weight(tmp_path):
    folder, _ = official_mask_folder(tmp_path)
    (folder / "opt.txt").write_text((folder / "opt.txt").read_text().replace("ff_size: 48", "ff_size: 64"))
    with pytest.raises(CheckpointError, match="linear1.weight' of shape"):
        load_official_mask_transformer(folder)


def test_a_truncated_checkpoint_is_refused(tmp_path):
    folder, _ = official_mask_folder(tmp_path)
    path = folder / "model" / "latest.tar"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_official_mask_transformer(folder)


def test_missing_and_unexpected_weights_are_refused(tmp_path):
    folder, state = official_mask_folder(tmp_path)
    path = folder / "model" / "latest.tar"
    torch.save({"t2m_transformer": {**state, "quant_emb.weight": torch.zeros(32, 3)}}, path)
    with pytest.raises(CheckpointError, match="unexpected weight 'layer_emb.weight'"):
        load_official_mask_transformer(folder)
    torch.save({"t2m_transformer": {k: v for k, v in state.items() if k != "cond_emb.bias"}}, path)
    with pytest.raises(CheckpointError, match="lacks the weight 'cond_proj.bias'"):
        load_official_mask_transformer(folder)
    torch.save({"t2m_transformer": {**state, "position_enc.pe": torch.zeros(5000, 1, 32)}}, path)
    with pytest.raises(CheckpointError, match="sinusoidal"):
        load_official_mask_transformer(folder)
    torch.save({"t2m_transformer": {**state, "clip_model.token_embedding.weight": torch.zeros(3, 4)}}, path)
    load_official_mask_transformer(folder)  # CLIP weights are not part of our model


def test_missing_opt_txt_and_shared_codebook_are_refused(tmp_path):
    folder, _ = official_residual_folder(tmp_path)
    vq_opt = tmp_path / "t2m" / "rvq_B" / "opt.txt"
    vq_opt.write_text(vq_opt.read_text().replace("shared_codebook: False", "shared_codebook: True"))
    with pytest.raises(CheckpointError, match="shared_codebook"):
        load_official_residual_transformer(folder)
    (folder / "opt.txt").unlink()
    with pytest.raises(CheckpointError, match="opt.txt is missing"):
        load_official_residual_transformer(folder)
