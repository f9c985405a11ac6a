"""bitsandbytes' nf4 linear layer in plain PyTorch ops, for the compiled decoder layers (`train.compile`).

bitsandbytes runs each 4-bit matrix multiplication through custom ops written in Python: on an H100 the
CPU time they take (about a quarter of a millisecond per call under the profiler, 840 calls a step for
Qwen3-14B) left the GPU waiting through most of the backward pass (benchmarks/train_throughput.py
--profile). Written in tensor ops, the dequantisation becomes one kernel that Inductor generates and
launches from its own wrapper, and the matrix multiplication stays cuBLAS's. AOTAutograd's partitioner
keeps a layer's dequantised weights from its recompute to its backward (about 0.45 GiB for a Qwen3-14B
layer) where bitsandbytes dequantises them again. Run eagerly, the values are bitsandbytes' to the bit: the
same table, the same fp32 products, one rounding to the compute dtype (tests/test_nf4.py); compiled,
Triton may fuse the double-quantised scale's multiply and add, which can move its last bit.
"""

from typing import Any

import bitsandbytes as bnb
import torch


def dequantize(weight: Any, dtype: torch.dtype) -> torch.Tensor:
    """A `Params4bit` weight (nf4, with or without double quantisation) as a dense `dtype` matrix."""
    state = weight.quant_state
    count = state.shape.numel()
    absmax = state.absmax
    if state.nested:  # the per-block scales are themselves 8-bit, with fp32 scales per 256 of them
        groups = torch.arange(absmax.numel(), device=absmax.device) // state.state2.blocksize
        absmax = state.state2.code[absmax.long()] * state.state2.absmax[groups] + state.offset
    packed = weight.view(torch.uint8).reshape(-1)
    codes = torch.stack((packed >> 4, packed & 15), dim=-1).reshape(-1).long()  # high nibble first, as packed
    if count % state.blocksize == 0:  # whole blocks (every Qwen3 projection): one scale per row of blocksize
        values = state.code[codes].view(-1, state.blocksize) * absmax.float().view(-1, 1)
    else:  # a partial last block; an odd count leaves the last low nibble unused
        blocks = torch.arange(count, device=packed.device) // state.blocksize
        values = state.code[codes[:count]] * absmax.float()[blocks]
    return values.to(dtype).view(state.shape)


def linear_forward(layer: Any, x: torch.Tensor) -> torch.Tensor:
    """`bnb.nn.Linear4bit.forward` for nf4 weights, through `dequantize`."""
    compute = layer.compute_dtype or x.dtype  # without one, bitsandbytes computes in the input's dtype
    bias = None if layer.bias is None else layer.bias.to(compute)
    return torch.nn.functional.linear(x.to(compute), dequantize(layer.weight, compute), bias).to(x.dtype)


class TensorOpsLinear4bit(bnb.nn.Linear4bit):
    forward = linear_forward


def use_tensor_ops(modules: list[Any]) -> int:
    """Every nf4 `Linear4bit` inside `modules` computes through `linear_forward`; returns how many. The class
    of each layer changes to a subclass, so PEFT still sees bitsandbytes layers and the compiled code,
    guarded on the class, serves all of them."""
    layers = [layer for module in modules for layer in module.modules() if isinstance(layer, bnb.nn.Linear4bit)
              and layer.weight.quant_state is not None and layer.weight.quant_state.quant_type == "nf4"]
    for layer in layers:
        layer.__class__ = TensorOpsLinear4bit
    return len(layers)
