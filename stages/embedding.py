"""The input embedding in training: the style tokens' rows without a vocabulary-sized copy (DESIGN.md
decision 4), and the frozen table in CPU memory (`train.embedding_offloading`).

PEFT's `trainable_token_indices` layer writes the trained rows into a copy of the whole embedding at every
forward pass (`index_copy`) and embeds through that copy, so the backward pass builds a dense gradient for
it: for Qwen3-14B two transient 151,936 x 5,120 matrices (1.45 GiB each in bf16), one in the forward pass
and one at the end of the backward. Here the frozen embedding embeds every token and the positions of the
trained tokens take their rows: the same values, and gradients that reach only the trained rows.

The frozen table is read for one row per token and never trained: 1.45 GiB of GPU memory for Qwen3-14B, for
3,072 rows (31 MB) a step. `HostEmbedding` keeps it in CPU memory, gathers each step's rows there and sends
them to the GPU; the ids are read back first, which waits for the GPU to reach that point of the step.
"""

from typing import Any

import torch
from peft.tuners.trainable_tokens.layer import TrainableTokensLayer


class HostEmbedding(torch.nn.Embedding):
    """A frozen table in CPU memory for ids on a GPU: the rows gathered on the CPU into pinned memory, sent
    without a wait. The values are `nn.Embedding`'s; the table has no gradient and stays in CPU memory."""

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.device == self.weight.device:
            return super().forward(ids)
        flat = ids.reshape(-1).cpu()
        rows = torch.empty((flat.numel(), self.embedding_dim), dtype=self.weight.dtype, pin_memory=True)
        torch.index_select(self.weight, 0, flat, out=rows)
        return rows.to(ids.device, non_blocking=True).view(*ids.shape, self.embedding_dim)

    def _apply(self, fn: Any, recurse: bool = True) -> "HostEmbedding":
        # Moving the whole model (accelerate's `prepare` calls `model.to(device)`) leaves the table in CPU memory;
        # a change of dtype applies.
        dtype = fn(torch.empty(0, dtype=self.weight.dtype)).dtype
        if dtype != self.weight.dtype:
            self.weight.data = self.weight.data.to(dtype)
        return self


class StyleRowsEmbedding(TrainableTokensLayer):
    def embeds_rows_itself(self, active_adapters: list[str]) -> bool:
        """False where PEFT's own path runs, wherever embedding through the full table differs: merged or
        disabled adapters, a tied LM head, norms, scaling, gradients scaled by frequency or kept off a padding
        row that is trained."""
        base = self.base_layer
        return not (self.disable_adapters or self.merged or not active_adapters
                    or type(base) not in (torch.nn.Embedding, HostEmbedding) or base.max_norm is not None
                    or base.scale_grad_by_freq or self._get_embed_scale() is not None
                    or any(not self.token_indices[name] or base.padding_idx in self.token_indices[name]
                           for name in active_adapters))

    def forward_adapters(self, x: torch.Tensor, active_adapters: list[str], *args: Any, **kwargs: Any) -> torch.Tensor:
        if not self.embeds_rows_itself(active_adapters):
            return super().forward_adapters(x, active_adapters, *args, **kwargs)
        self._check_overlapping_tokens(active_adapters)
        result = self.base_layer(x)  # the frozen table, on the GPU or a HostEmbedding
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


def keep_embedding_on_host(model: Any) -> str | None:
    """Moves the frozen input table of `model` (a PEFT model on a GPU) to CPU memory as a `HostEmbedding`.
    Where it cannot, it leaves the table and returns why."""
    embedding = model.get_input_embeddings()
    embedding = getattr(embedding, "token_adapter", embedding)  # under PEFT's TrainableTokensWrapper
    table = embedding.base_layer if isinstance(embedding, TrainableTokensLayer) else embedding
    head = model.get_output_embeddings()
    if type(table) is not torch.nn.Embedding:
        return "it is not a plain nn.Embedding"
    if table.weight.requires_grad:
        return "it trains"
    if table.max_norm is not None:
        return "its max_norm rewrites rows in place"
    if model.config.get_text_config().tie_word_embeddings or (
            type(head) is torch.nn.Linear and head.weight.data_ptr() == table.weight.data_ptr()):
        return "the LM head shares it (tied embeddings)"
    if isinstance(embedding, TrainableTokensLayer) and not (
            isinstance(embedding, StyleRowsEmbedding) and embedding.embeds_rows_itself(embedding.active_adapters)):
        return "PEFT's trainable-token layer embeds through a copy of it on the GPU"
    device = table.weight.device
    table.__class__ = HostEmbedding
    table.weight = torch.nn.Parameter(table.weight.detach().cpu(), requires_grad=False)
    if device.type == "cuda":
        torch.cuda.empty_cache()  # the table's memory back to the GPU, not kept in PyTorch's cache
    return None
