"""The style tokens' embedding rows in training, without a vocabulary-sized copy (DESIGN.md decision 4).

PEFT's `trainable_token_indices` layer writes the trained rows into a copy of the whole embedding at every
forward pass (`index_copy`) and embeds through that copy, so the backward pass builds a dense gradient for
it: for Qwen3-14B two transient 151,936 x 5,120 matrices (1.45 GiB each in bf16), one in the forward pass
and one at the end of the backward. Here the frozen embedding embeds every token and the positions of the
trained tokens take their rows: the same values, and gradients that reach only the trained rows.
"""

from typing import Any

import torch
from peft.tuners.trainable_tokens.layer import TrainableTokensLayer


class StyleRowsEmbedding(TrainableTokensLayer):
    def forward_adapters(self, x: torch.Tensor, active_adapters: list[str], *args: Any, **kwargs: Any) -> torch.Tensor:
        base = self.base_layer
        # PEFT's own path wherever embedding through the full table differs: merged or disabled adapters, a tied
        # LM head, norms, scaling, gradients scaled by frequency or kept off a padding row that is trained
        if (self.disable_adapters or self.merged or not active_adapters or type(base) is not torch.nn.Embedding
                or base.max_norm is not None or base.scale_grad_by_freq or self._get_embed_scale() is not None
                or any(not self.token_indices[name] or base.padding_idx in self.token_indices[name]
                       for name in active_adapters)):
            return super().forward_adapters(x, active_adapters, *args, **kwargs)
        self._check_overlapping_tokens(active_adapters)
        result = base(x)
        for name in active_adapters:
            match = x.unsqueeze(-1) == self._rows_on(name, x.device)  # (..., number of trained rows)
            row_at_each_position = self.trainable_tokens_delta[name].to(result.dtype)[match.int().argmax(-1)]
            result = torch.where(match.any(-1, keepdim=True), row_at_each_position, result)
        return result

    def _rows_on(self, name: str, device: torch.device) -> torch.Tensor:
        # once per device and row list: a list copied to the GPU at every step waits for the work queued before it
        rows = tuple(self.token_indices[name])
        cache = vars(self).setdefault("_rows_cache", {})
        if (rows, device) not in cache:
            cache[rows, device] = torch.as_tensor(rows, device=device)
        return cache[rows, device]


def use_style_rows(model: Any) -> int:
    """Every PEFT trainable-token layer in `model` embeds through `StyleRowsEmbedding`; returns how many.
    The class changes in place, so the adapter's parameters, names and saving stay PEFT's."""
    layers = [module for module in model.modules() if type(module) is TrainableTokensLayer]
    for layer in layers:
        layer.__class__ = StyleRowsEmbedding
    return len(layers)
