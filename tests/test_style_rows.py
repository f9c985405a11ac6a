"""The style rows' embedding against PEFT's own trainable-token layer, on the tiny Qwen3 base (untied)."""

import copy
from pathlib import Path
from typing import Any

import torch
from peft import get_peft_model
from peft.tuners.trainable_tokens.layer import TrainableTokensLayer
from torch.utils._python_dispatch import TorchDispatchMode

from stages import style_rows, training
from tests.tiny_models import cpu_base


class Shapes(TorchDispatchMode):
    """The shapes of every tensor an operation returns, forward and backward."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, ...]] = set()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(tensor, torch.Tensor):
                self.seen.add(tuple(tensor.shape))
        return out


def test_style_rows_embed_what_peft_embeds_without_a_vocabulary_sized_tensor(tiny_qwen3_dir: Path) -> None:
    settings, _, model, layout = cpu_base(tiny_qwen3_dir)
    theirs = get_peft_model(model, training.lora_config(settings, layout))
    ours = copy.deepcopy(theirs)
    assert style_rows.use_style_rows(ours) == 1
    layers = [next(module for module in peft_model.modules() if isinstance(module, TrainableTokensLayer))
              for peft_model in (theirs, ours)]
    assert type(layers[0]) is TrainableTokensLayer and type(layers[1]) is style_rows.StyleRowsEmbedding
    assert list(ours.state_dict()) == list(theirs.state_dict())  # the adapter saves as PEFT's

    rows = sorted(layout["token_ids"].values())
    vocabulary_sized = tuple(layers[0].base_layer.weight.shape)
    ids = torch.tensor([[rows[1], 11, 12, rows[0], 13, rows[1]], [7, 8, 9, 10, 11, 12]])
    results = []
    for layer in layers:
        delta = layer.trainable_tokens_delta["default"]
        with torch.no_grad():  # trained rows away from the base embedding's, so a wrong row shows
            delta.copy_(torch.randn(delta.shape, generator=torch.Generator().manual_seed(0)))
        delta.grad = None
        with Shapes() as shapes:
            output = layer(ids)
            (output * torch.arange(output.shape[-1])).sum().backward()
        results.append((output, delta.grad.clone(), vocabulary_sized in shapes.seen))
    (expected, expected_grad, peft_copies), (actual, actual_grad, we_copy) = results
    assert peft_copies and not we_copy  # the check sees PEFT's full copy, and none of ours
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    position = layers[1].token_indices["default"].index(rows[1])  # the trained row of the first id
    assert torch.equal(actual[0, 0], layers[1].trainable_tokens_delta["default"][position].detach())
    torch.testing.assert_close(actual_grad, expected_grad)
    assert actual_grad[position].abs().sum() > 0
