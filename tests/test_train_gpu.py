"""QLoRA on CUDA through the pipeline's own training stages (the full run with JSON results is
benchmarks/qlora_cuda.py). Skipped without a CUDA GPU: CI machines have none."""

from pathlib import Path

import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU for bitsandbytes nf4")]


def test_qlora_trains_only_style_rows_and_stage2_continues(tmp_path: Path, tiny_qwen3_dir: Path) -> None:
    from benchmarks.qlora_cuda import run_model

    result = run_model("qwen3", tiny_qwen3_dir, tmp_path, {"train_stage1": 4, "train_stage2": 3})
    checks = result["checks"]
    # one GPU: the decoder layers compiled and the input table in CPU memory (auto); stage 1 of the tiny model
    # runs without checkpointing
    assert result["train_stage1"]["hardware"] == {"device": "cuda", "quantization": "nf4", "precision": "bf16",
                                                  "compile_layers": True, "offload_activations": False,
                                                  "offload_embedding": True}
    assert checks["linear4bit_modules"] > 0 and checks["style_token_ids"] == {"TERSE": 151669, "VERBOSE": 151670}
    assert result["stage2_starts_from_stage1"] and checks["style_rows_survive_stage2"]
    for adapter in ("models/stage1_adapter", "models/complete_adapter"):
        assert checks[adapter]["input_rows_changed"] == [151669, 151670]
        assert checks[adapter]["output_rows_changed"] == []
