"""qwen-iac: one module per DVC stage, plus the shared modules they use."""

import os

# No telemetry from great-expectations or DVC: the pipeline runs offline and must not phone home.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# PyTorch's CUDA allocator then grows its segments in place instead of reserving new ones, so reserved GPU memory
# stays near what training allocates as sequence lengths vary (Unsloth sets the same). Torch reads it once, when
# it loads: here, before any stage imports it.
CUDA_ALLOCATOR_CONF = "expandable_segments:True"
if "PYTORCH_ALLOC_CONF" not in os.environ:
    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", CUDA_ALLOCATOR_CONF)


class PipelineError(Exception):
    """A failure the user can act on: the CLI prints the message without a traceback and exits 1."""
