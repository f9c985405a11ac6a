"""The input embedding in training against PEFT's own trainable-token layer and nn.Embedding, on the tiny Qwen3
base (untied): the style rows without a vocabulary-sized copy, the frozen table in CPU memory."""

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import get_peft_model
from peft.tuners.trainable_tokens.layer import TrainableTokensLayer
from torch.utils._python_dispatch import TorchDispatchMode

from stages import embedding, training
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


def _peft_base(model_dir: Path) -> tuple[Any, dict]:
    """The stage's CPU base under the stage's LoRA config, with PEFT's own trainable-token layer."""
    settings, _, model, layout = cpu_base(model_dir)
    return get_peft_model(model, training.lora_config(settings, layout)), layout


def _spread_rows(layer: TrainableTokensLayer) -> torch.Tensor:
    """Trained rows away from the table's, so a row from the wrong place shows; returns them."""
    delta = layer.trainable_tokens_delta["default"]
    with torch.no_grad():
        delta.copy_(torch.randn(delta.shape, generator=torch.Generator().manual_seed(0)))
    return delta


def test_style_rows_embed_what_peft_embeds_without_a_vocabulary_sized_tensor(tiny_qwen3_dir: Path) -> None:
    theirs, layout = _peft_base(tiny_qwen3_dir)
    ours = copy.deepcopy(theirs)
    assert embedding.use_style_rows(ours) == 1
    layers = [next(module for module in peft_model.modules() if isinstance(module, TrainableTokensLayer))
              for peft_model in (theirs, ours)]
    assert type(layers[0]) is TrainableTokensLayer and type(layers[1]) is embedding.StyleRowsEmbedding
    assert list(ours.state_dict()) == list(theirs.state_dict())  # the adapter saves as PEFT's

    rows = sorted(layout["token_ids"].values())
    vocabulary_sized = tuple(layers[0].base_layer.weight.shape)
    ids = torch.tensor([[rows[1], 11, 12, rows[0], 13, rows[1]], [7, 8, 9, 10, 11, 12]])
    results = []
    for layer in layers:
        delta = _spread_rows(layer)
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


def _style_model(model_dir: Path, device: str) -> tuple[Any, list[int]]:
    model, layout = _peft_base(model_dir)
    model = model.to(device)
    embedding.use_style_rows(model)
    _spread_rows(model.get_input_embeddings().token_adapter)  # under PEFT's TrainableTokensWrapper
    return model, sorted(layout["token_ids"].values())


def test_only_an_untied_frozen_table_moves_to_the_host(tiny_qwen3_dir: Path, tiny_model_dir: Path) -> None:
    tied, _ = _style_model(tiny_model_dir, "cpu")  # the tiny Llama's LM head is its embedding
    assert embedding.keep_embedding_on_host(tied) == "the LM head shares it (tied embeddings)"
    assert not any(isinstance(module, embedding.HostEmbedding) for module in tied.modules())

    untied, _ = _peft_base(tiny_qwen3_dir)  # PEFT's own layer copies the table
    assert embedding.keep_embedding_on_host(untied).startswith("PEFT's trainable-token layer")

    model, rows = _style_model(tiny_qwen3_dir, "cpu")
    layer = model.get_input_embeddings().token_adapter
    ids = torch.tensor([[rows[1], 11, 12, rows[0], 13]])
    expected = layer(ids)
    layer.base_layer.weight.requires_grad_(True)  # a table that trains stays where its optimizer is
    assert embedding.keep_embedding_on_host(model) == "it trains"
    layer.base_layer.weight.requires_grad_(False)
    assert embedding.keep_embedding_on_host(model) is None
    assert type(layer.base_layer) is embedding.HostEmbedding and layer.embeds_rows_itself(layer.active_adapters)
    assert torch.equal(layer(ids), expected)  # ids on the table's device: nn.Embedding's own path
    model.to("meta")  # a whole-model move (accelerate's prepare moves to the GPU) leaves the table on the host
    assert layer.base_layer.weight.device.type == "cpu" and layer.trainable_tokens_delta["default"].is_meta
    model.to(torch.float64)  # a change of dtype applies
    assert layer.base_layer.weight.dtype == torch.float64 and layer.base_layer.weight.device.type == "cpu"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="the host table serves ids on a CUDA GPU")
def test_host_table_embeds_gpu_ids_as_the_gpu_table_and_frees_its_memory(tiny_qwen3_dir: Path) -> None:
    model, rows = _style_model(tiny_qwen3_dir, "cuda")
    layer = model.get_input_embeddings().token_adapter
    delta = layer.trainable_tokens_delta["default"]
    ids = torch.tensor([[rows[1], 11, 12, rows[0], 13, rows[1]], [7, 8, 9, 10, 151935, 0]], device="cuda")
    batches = [ids, ids.t(), ids.flip(0)]  # a transposed (non-contiguous) batch; all embedded before any wait
    results = []
    for place in ("gpu", "host"):
        if place == "host":
            allocated = torch.cuda.memory_allocated()
            assert embedding.keep_embedding_on_host(model) is None
            assert torch.cuda.memory_allocated() <= allocated - layer.base_layer.weight.nbytes
            model.to("cuda")  # as accelerate's prepare does: the table stays on the host
        delta.grad = None
        outputs = [layer(batch) for batch in batches]
        sum((output * torch.arange(output.shape[-1], device="cuda")).sum() for output in outputs).backward()
        results.append((outputs, delta.grad.clone()))
    assert layer.base_layer.weight.device.type == "cpu" and delta.device.type == "cuda"
    (expected, expected_grad), (actual, actual_grad) = results
    assert all(output.device == ids.device and output.requires_grad for output in actual)
    for ours, theirs in zip(actual, expected, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    torch.testing.assert_close(actual_grad, expected_grad, rtol=0, atol=0)
