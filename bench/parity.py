"""Parity with the official MoMask code, as numbers: every golden array in ../shared/parity.

    python bench/parity.py [--parity DIR]

Prints the max abs difference (floats) or the count of differing ids for each comparison.
"""

import argparse
from pathlib import Path

import numpy as np
import torch

from keymask.core.features import joints_to_features, recover_from_ric
from keymask.core.generation.masked_decoding import decode_base_tokens, decode_residual_layers, edit_base_tokens
from keymask.core.models.mask_transformer import padding_from_lengths
from keymask.core.models.official.rvq_vae import load_official_rvq_vae
from keymask.core.models.official.transformers import (
    load_official_mask_transformer,
    load_official_residual_transformer,
)


def report(name: str, ours, theirs) -> None:
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    if np.issubdtype(theirs.dtype, np.integer):
        print(f"{name:<48} {int((ours != theirs).sum())} of {theirs.size} ids differ")
    else:
        print(f"{name:<48} max abs diff {np.abs(ours - theirs).max():.2e}")


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parity", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "parity")
    args = parser.parse_args()
    torch.set_num_threads(1)

    features = np.load(args.parity / "golden_features.npz")
    for k in range(len(features["clip_names"])):
        report(f"joints -> features, clip {k}", joints_to_features(features[f"joints_{k}"],
               target_offsets=features["tgt_offsets"]), features[f"features_{k}"])
        report(f"features -> joints, clip {k}", recover_from_ric(features[f"features_{k}"]), features[f"recovered_{k}"])

    golden = dict(np.load(args.parity / "golden.npz"))
    checkpoints = args.parity / "checkpoints" / "t2m"
    vq, mean, std = load_official_rvq_vae(checkpoints / "rvq_A")
    mask = load_official_mask_transformer(checkpoints / "mtrans_A")
    residual = load_official_residual_transformer(checkpoints / "rtrans_A")
    report("recover_from_ric(gen_decoded) vs gen_joints", recover_from_ric(golden["gen_decoded"] * std + mean),
           golden["gen_joints"])
    report("RVQ encode", vq.encode(torch.from_numpy(golden["rvq_input"])), golden["rvq_code_idx"])
    report("RVQ decode", vq.decode(torch.from_numpy(golden["rvq_code_idx"])), golden["rvq_decoded_from_idx"])

    text = torch.from_numpy(golden["text_embedding"])
    ids, padding = torch.from_numpy(golden["mask_input_ids"]), torch.from_numpy(golden["mask_padding_mask"])
    report("masked transformer logits", mask(ids, text, padding).transpose(1, 2), golden["mask_logits"])
    report("masked transformer logits, unconditional", mask(ids, text, padding, drop_condition=True).transpose(1, 2),
           golden["mask_logits_uncond"])
    report("masked transformer logits, guidance 4", mask.guided_logits(ids, text, padding, 4.0).transpose(1, 2),
           golden["mask_logits_cfg4"])

    lengths = torch.from_numpy(golden["token_lens"])
    base = decode_base_tokens(mask, text, lengths, steps=10, guidance_scale=4, greedy=True)
    report("greedy base tokens", base, golden["gen_base_ids"])
    all_ids = decode_residual_layers(residual, torch.from_numpy(golden["gen_base_ids"]), text, lengths,
                                     guidance_scale=5, greedy=True)
    report("greedy residual tokens", all_ids, golden["gen_all_ids"])
    report("decoded motion", vq.decode(torch.from_numpy(golden["gen_all_ids"])), golden["gen_decoded"])

    layer = int(golden["res_active_layer"])
    history = residual.history_embedding(torch.from_numpy(golden["rvq_code_idx"][..., :layer]))
    report("residual logits, guidance 5", residual.guided_logits(
        history, layer, text, padding_from_lengths(lengths, 16), 5.0).transpose(1, 2), golden["res_logits_cfg5"])
    edited = edit_base_tokens(mask, torch.from_numpy(golden["edit_source_ids"]), torch.from_numpy(golden["edit_mask"]),
                              text[:1], torch.tensor([16]), steps=10, guidance_scale=4, greedy=True)
    report("temporal inpainting (edit) tokens", edited, golden["edit_output_ids"])


if __name__ == "__main__":
    main()
