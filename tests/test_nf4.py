"""The tensor-op nf4 layer against bitsandbytes' own kernels, on CPU (bitsandbytes ships them)."""

import copy

import bitsandbytes as bnb
import pytest
import torch
from bitsandbytes import functional as F

from stages import nf4


# 96 x 320: whole blocks, and 480 scales, so the last group of 256 double-quantised scales is partial;
# 7 x 33: an odd count of weights and a partial last block
@pytest.mark.parametrize("shape", [(96, 320), (7, 33)])
@pytest.mark.parametrize("double_quant", [True, False])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_dequantize_is_bitsandbytes_to_the_bit(shape: tuple[int, int], double_quant: bool,
                                               dtype: torch.dtype) -> None:
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 0.02
    packed, state = F.quantize_4bit(weight.to(dtype), blocksize=64, compress_statistics=double_quant,
                                    quant_type="nf4")
    parameter = bnb.nn.Params4bit(packed, requires_grad=False, quant_state=state, bnb_quantized=True)
    ours = nf4.dequantize(parameter, dtype)
    theirs = F.dequantize_4bit(packed, state)
    assert state.nested == double_quant and ours.dtype == theirs.dtype == dtype
    assert torch.equal(ours, theirs)


def quantized_pair(compute_dtype: torch.dtype | None) -> torch.nn.Sequential:
    torch.manual_seed(0)
    # Rows of whole 64-weight blocks, as in every Qwen3 projection: on CPUs with AVX-512, bitsandbytes'
    # own CPU kernel decodes a block that spans two rows wrongly (its error exceeds nf4's rounding).
    dense = torch.nn.Sequential(torch.nn.Linear(320, 128, bias=True), torch.nn.Linear(128, 64, bias=False))
    quantized = torch.nn.Sequential(
        *(bnb.nn.Linear4bit(layer.in_features, layer.out_features, bias=layer.bias is not None,
                            compute_dtype=compute_dtype, quant_type="nf4") for layer in dense))
    quantized.load_state_dict(dense.state_dict())
    quantized = quantized.to("cpu")  # Params4bit quantise when moved to a device
    assert all(layer.weight.quant_state.nested for layer in quantized)
    return quantized


@pytest.mark.parametrize("compute_dtype", [torch.bfloat16, None])
@pytest.mark.parametrize("input_dtype", [torch.float32, torch.bfloat16])
def test_layers_compute_what_bitsandbytes_computes(compute_dtype: torch.dtype | None,
                                                   input_dtype: torch.dtype) -> None:
    """Forward and input gradient equal bitsandbytes' own, with the compute dtype set (as transformers sets
    it: inputs are cast to it) or not (bitsandbytes computes in the input's dtype)."""
    theirs = quantized_pair(compute_dtype)
    ours = copy.deepcopy(theirs)
    assert nf4.use_tensor_ops([ours]) == 2
    assert all(type(layer) is nf4.TensorOpsLinear4bit for layer in ours)
    assert all(isinstance(layer, bnb.nn.Linear4bit) for layer in ours)  # PEFT's dispatch still sees them
    x = torch.randn(3, 7, 320, dtype=input_dtype, requires_grad=True)
    results = []
    for model in (theirs, ours):
        output = model(x)
        output.float().sum().backward()
        results.append((output, x.grad))
        x.grad = None
    (expected, expected_grad), (actual, actual_grad) = results
    assert expected.dtype == input_dtype
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    torch.testing.assert_close(actual_grad, expected_grad, rtol=0, atol=0)
