"""The official MoMask code (a local copy of EricGuo5513/momask-codes) at official size, with the
same random weights as ours, for `bench/generate.py --official DIR`.

The official modules are built as the official `gen_t2m.py` builds them, with random weights
(no checkpoints are needed). Their state dicts are written in the official checkpoint layout and
read back by KeyMask's loader, so both sides run identical weights. CLIP ViT-B/32 is the same
random-weight model on both sides: the official `clip.load` is pointed at it, since it would
otherwise download OpenAI's weights.
"""

import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch

OFFICIAL_SIZE = dict(nb_code=512, code_dim=512, width=512, depth=3, down_t=2, stride_t=2, dilation_growth_rate=3,
                     num_quantizers=6, latent_dim=384, ff_size=1024, n_layers=8, n_heads=6, dropout=0.1)
# gen_t2m.py's defaults (options/eval_option.py) but for timesteps: 18 there, 10 in KeyMask
GEN_SETTINGS = dict(timesteps=10, cond_scale=4.0, temperature=1.0, topk_filter_thres=0.9, residual_cond_scale=5.0)
OFFICIAL_DEFAULT_TIMESTEPS = 18


def _write_options(folder: Path, options: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["------------ Options -------------", *[f"{k}: {v}" for k, v in sorted(options.items())],
             "-------------- End ----------------"]
    (folder / "opt.txt").write_text("\n".join(lines) + "\n")


class OfficialMoMask:
    """The official RVQ-VAE, masked and residual transformers (eval mode, CPU) and their generation."""

    def __init__(self, official_dir: Path, clip_model: torch.nn.Module, seed: int = 0):
        if not (official_dir / "models" / "mask_transformer" / "transformer.py").exists():
            raise SystemExit(f"{official_dir} is not a copy of momask-codes (no models/mask_transformer/transformer.py).")
        sys.path.insert(0, str(official_dir))
        import clip

        clip.load = lambda *args, **kwargs: (clip_model, None)  # the official code would download the weights
        from models.mask_transformer.transformer import MaskTransformer, ResidualTransformer
        from models.vq.model import RVQVAE

        size = OFFICIAL_SIZE
        torch.manual_seed(seed)
        vq_args = Namespace(num_quantizers=size["num_quantizers"], shared_codebook=False, quantize_dropout_prob=0.2,
                            mu=0.99)
        self.vq = RVQVAE(vq_args, 263, size["nb_code"], size["code_dim"], size["code_dim"], size["down_t"],
                         size["stride_t"], size["width"], size["depth"], size["dilation_growth_rate"], "relu", None)
        for layer in self.vq.quantizer.layers:  # codebooks from the encoder's range, as after training
            layer.codebook.data.normal_(0, 0.5)
        opt = Namespace(num_tokens=size["nb_code"], num_quantizers=size["num_quantizers"], device=torch.device("cpu"))
        common = dict(code_dim=size["code_dim"], cond_mode="text", latent_dim=size["latent_dim"],
                      ff_size=size["ff_size"], num_layers=size["n_layers"], num_heads=size["n_heads"],
                      dropout=size["dropout"], clip_dim=512, clip_version="ViT-B/32", opt=opt)
        self.mask = MaskTransformer(cond_drop_prob=0.1, **common)
        self.residual = ResidualTransformer(cond_drop_prob=0.2, shared_codebook=False, share_weight=True, **common)
        for module in (self.vq, self.mask, self.residual):
            module.eval()
        self.mean, self.std = np.zeros(263, np.float32), np.ones(263, np.float32)

    def save_checkpoints(self, folder: Path) -> Path:
        """The official on-disk layout under folder/t2m; returns the masked transformer's folder."""
        size, root = OFFICIAL_SIZE, folder / "t2m"
        vq_options = {k: size[k] for k in ("nb_code", "code_dim", "width", "depth", "down_t", "stride_t",
                                           "dilation_growth_rate", "num_quantizers")}
        _write_options(root / "rvq", dict(vq_options, name="rvq", dataset_name="t2m", dim_pose=263,
                                          output_emb_width=size["code_dim"], vq_act="relu", vq_norm=None,
                                          shared_codebook=False, quantize_dropout_prob=0.2, mu=0.99))
        (root / "rvq" / "model").mkdir()
        (root / "rvq" / "meta").mkdir()
        torch.save({"vq_model": self.vq.state_dict(), "ep": 0, "total_it": 0}, root / "rvq" / "model" / "net_best_fid.tar")
        np.save(root / "rvq" / "meta" / "mean.npy", self.mean)
        np.save(root / "rvq" / "meta" / "std.npy", self.std)
        common = {k: size[k] for k in ("code_dim", "latent_dim", "ff_size", "n_layers", "n_heads", "dropout",
                                       "nb_code", "num_quantizers")}
        common.update(num_tokens=size["nb_code"], vq_name="rvq", dataset_name="t2m")
        without_clip = lambda module: {k: v for k, v in module.state_dict().items() if not k.startswith("clip_model.")}
        _write_options(root / "mtrans", dict(common, name="mtrans", cond_drop_prob=0.1))
        (root / "mtrans" / "model").mkdir()
        torch.save({"t2m_transformer": without_clip(self.mask), "ep": 0}, root / "mtrans" / "model" / "latest.tar")
        _write_options(root / "rtrans", dict(common, name="rtrans", cond_drop_prob=0.2, share_weight=True))
        (root / "rtrans" / "model").mkdir()
        torch.save({"res_transformer": without_clip(self.residual), "ep": 0},
                   root / "rtrans" / "model" / "net_best_fid.tar")
        return root / "mtrans"

    @torch.no_grad()
    def generate(self, prompts: list[str], frames: int, timesteps: int = GEN_SETTINGS["timesteps"]) -> np.ndarray:
        """Joints (B, frames, 22, 3) as the official gen_t2m.py makes them (categorical sampling)."""
        from utils.motion_process import recover_from_ric

        s = GEN_SETTINGS
        token_lens = torch.full((len(prompts),), frames // 4, dtype=torch.long)
        ids = self.mask.generate(prompts, token_lens, timesteps=timesteps, cond_scale=s["cond_scale"],
                                 temperature=s["temperature"], topk_filter_thres=s["topk_filter_thres"], gsample=False)
        ids = self.residual.generate(ids, prompts, token_lens, temperature=s["temperature"],
                                     cond_scale=s["residual_cond_scale"])
        motion = self.vq.forward_decoder(ids).numpy() * self.std + self.mean  # (B, T, 263)
        return recover_from_ric(torch.from_numpy(motion).float(), 22).numpy()
