"""qwen-iac: one module per DVC stage, plus the shared modules they use."""

import os

# No telemetry from great-expectations or DVC: the pipeline runs offline and must not phone home.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


class PipelineError(Exception):
    """A failure the user can act on: the CLI prints the message without a traceback and exits 1."""
