"""TRL's activation offloading (`train.activation_offloading`) without its per-step synchronisations.

TRL's context wraps every training step. Entering, it empties the CUDA cache whenever bitsandbytes is loaded,
against bitsandbytes' dequantisation buffers: a device synchronisation, and the step's activations mapped
again. Leaving, it waits on the host for both streams, so the GPU idles while the CPU clips the gradients,
launches the optimizer step and zeroes the gradients (benchmarks/train_throughput.py --profile). With the
decoder layers compiled (`train.compile`), their nf4 layers dequantise in tensor ops (stages/nf4.py) and no
bitsandbytes buffer is made; the two streams wait for each other on the device instead.
"""

from typing import Any

from torch.autograd.graph import saved_tensors_hooks
from trl.models.activation_offloading import OffloadActivations


class StepOffloadActivations(OffloadActivations):
    def __enter__(self) -> Any:
        self._clear()  # what TRL's __enter__ resets, less the emptied cache
        self.tensor_id = 0
        self.is_first_forward_call = self.is_first_backward_call = True
        return saved_tensors_hooks.__enter__(self)

    def __exit__(self, *args: Any) -> Any:
        try:
            if self.use_streams:
                # Ordered on the device instead of waited for on the host: tensors brought back on the copy
                # stream and last read by the compute stream return to the copy stream's pool, and activations
                # of the compute stream may still be read by a copy to the CPU.
                self.s1.wait_stream(self.s0)
                self.s0.wait_stream(self.s1)
            self._clear()
        finally:
            result = saved_tensors_hooks.__exit__(self, *args)
        return result

    def _clear(self) -> None:
        self.tracker.clear()
        self.storage_to_tensor_id.clear()
        self._storage_key_by_tensor_id.clear()
        if self.use_streams:
            self.bwd_tensor_stash.clear()
            self.bwd_ev_stash.clear()
            self.fwd_stash.clear()


def drop_step_syncs(context: Any) -> bool:
    """Makes TRL's offloading context a `StepOffloadActivations` in place; False where it is not one."""
    if type(context) is not OffloadActivations:
        return False
    context.__class__ = StepOffloadActivations
    return True
