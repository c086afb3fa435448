"""How generation samples its tokens: a dataclass only, so that the command line can show the
defaults without loading the models' code."""

from dataclasses import dataclass


@dataclass
class SamplingSettings:
    steps: int = 10  # masked-decoding iterations for the base layer
    # Classifier-free guidance of the masked transformer (MoMask: 4). 3 was chosen on the hand-written
    # development paraphrases (`python bench/action_pull.py --guidance 4 3 2`): more of them right and
    # test captions nearer the real ones (model card).
    guidance_scale: float = 3.0
    # Classifier-free guidance of the residual transformer (official: 5; until the tenth session: 1, which
    # runs it once per layer). 3 was chosen on the validation split and the development paraphrases: FID
    # -0.0024 +- 0.0009 over 5 paired draws, bodies floating less, paraphrases unchanged (model card).
    residual_guidance_scale: float = 3.0
    temperature: float = 1.0  # 0 takes the most likely token
    # Sampling temperature of the residual (finer) token layers; None: `temperature`. 0 takes the
    # most likely token of each layer.
    residual_temperature: float | None = None
    # Keep the top (1 - thres) share of the vocabulary (MoMask: 0.9). 0.95 was chosen on the validation
    # split and the development paraphrases (R-precision top-3 +0.008 +- 0.003 over 5 paired draws,
    # FID -0.002, paraphrases 0.802 -> 0.843: `python bench/action_pull.py --topk 0.9 0.95`; model card).
    topk_filter_thres: float = 0.95
    # The same for the residual (finer) token layers; None: `topk_filter_thres`.
    residual_topk_filter_thres: float | None = None
    greedy: bool = False  # argmax everywhere, no noise: the official parity setting
    # Draw each length from the length estimator's distribution (as MoMask does) instead of taking
    # its median, which is nearer the real clip's length more often (model card).
    sample_length: bool = False
    # Each prompt's embedding is pulled toward the captions of the trained action it reads as
    # (CaptionIndex.pulled_toward_actions) before it conditions the model; 0 conditions on the words
    # alone. Chosen on a hand-written development set apart from bench/text.py (model card).
    action_pull: float = 1.0
    # Share of token positions held to a training clip of the action a prompt reads as, one of those
    # whose captions are nearest the prompt (exemplars.py); 0 decodes from the text alone. Used
    # where nothing else is held (not with key poses, edits or the windows that continue a motion).
    # Chosen on hand-written development prompts apart from bench/text.py (model card).
    exemplar_share: float = 1.0
    # A motion for a prompt that names a side for a hand or a leg ("waves with the left hand") is
    # replaced by its mirror image when it moves the other side's (core/generation/sides.py).
    mirror_to_named_side: bool = True

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}.")
        for name in ("guidance_scale", "residual_guidance_scale", "temperature", "residual_temperature", "action_pull"):
            value = getattr(self, name)
            if value is not None and not value >= 0:  # also refuses nan
                raise ValueError(f"{name} must be 0 or more, got {value}.")
        if not 0 <= self.exemplar_share <= 1:
            raise ValueError(f"exemplar_share is a share of token positions, from 0 to 1; got {self.exemplar_share}.")
        for name in ("topk_filter_thres", "residual_topk_filter_thres"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1:
                raise ValueError(f"{name} keeps the top (1 - it) share of tokens, so it must be at least 0 and "
                                 f"below 1, got {value}.")

    @property
    def finer_layers_temperature(self) -> float:
        """The temperature the residual layers are sampled at."""
        return self.temperature if self.residual_temperature is None else self.residual_temperature

    @property
    def finer_layers_topk(self) -> float:
        """The top-k threshold the residual layers are sampled with."""
        return self.topk_filter_thres if self.residual_topk_filter_thres is None else self.residual_topk_filter_thres
