"""Stage `quantize`: models/merged → models/awq/, AWQ int4 weights (W4A16) by llm-compressor in the
compressed-tensors format that vLLM and transformers load (DESIGN.md decision 8; AutoAWQ is deprecated and
its checkpoints no longer load in transformers 5). AWQ calibrates on stage-2 training conversations
rendered as training rendered them: the chat template, with the style tokens."""

import json
import math
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from stages import PipelineError, chat, merge
from stages.params import Params
from stages.rows import read_jsonl


@contextmanager
def cpu_without_pinned_memory() -> Iterator[None]:
    """llm-compressor 0.14's AWQ pins cached activations to speed host-to-GPU copies; pinning needs an
    accelerator and raises without one. With no accelerator there is no copy to speed up: skip the pinning,
    only then, only while calibrating."""
    from llmcompressor.pipelines.cache import IntermediatesCache

    if torch.accelerator.is_available():
        yield
        return
    original = IntermediatesCache.pin_memory
    IntermediatesCache.pin_memory = lambda self, batch_index, input_names=None: None
    try:
        yield
    finally:
        IntermediatesCache.pin_memory = original


def check_group_size(model: Any, group_size: int) -> None:
    head = model.get_output_embeddings()
    widths = {m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head}
    if any(width % group_size for width in widths):
        common = math.gcd(*widths)
        allowed = ", ".join(str(size) for size in (32, 64, 128, 256) if common % size == 0) or f"a divisor of {common}"
        raise PipelineError(f"quantize.group_size {group_size} does not divide the input widths of this model's "
                            f"layers {sorted(widths)} (allowed: {allowed})")


def calibration_set(tokenizer: Any, rows_path: Path, samples: int, max_seq_length: int, seed: int) -> Any:
    from datasets import Dataset

    rows = list(read_jsonl(rows_path))
    chosen = random.Random(seed).sample(rows, min(samples, len(rows)))
    texts = [tokenizer.apply_chat_template(chat.messages(row), tokenize=False, enable_thinking=False)
             for row in chosen]
    return Dataset.from_list([tokenizer(text, add_special_tokens=False, truncation=True, max_length=max_seq_length)
                              for text in texts])


def recipe(params: Params) -> list[Any]:
    from compressed_tensors.quantization import preset_name_to_scheme
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from llmcompressor.modifiers.transform.awq import AWQModifier

    scheme = preset_name_to_scheme(params.quantize.scheme, ["Linear"])
    scheme.weights.group_size = params.quantize.group_size
    # AWQ scales the channels that matter before the quantization modifier rounds the weights; the output
    # head stays in 16 bits (it is the embedding too when tied, and int4 there costs the most quality).
    return [AWQModifier(n_grid=params.quantize.grid_points),
            QuantizationModifier(config_groups={"group_0": scheme}, ignore=["lm_head"])]


def run(params: Params, merged_dir: Path = Path("models/merged"),
        calibration_path: Path = Path("data/splits/stage2_train.jsonl"), out_dir: Path = Path("models/awq"),
        metrics_path: Path = Path("metrics/quantize.json"), console: Console | None = None) -> dict[str, Any]:
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM, AutoTokenizer

    console = console or Console()
    settings = params.quantize
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    saved_dtype = getattr(torch, params.merge.dtype)
    # On a CPU the calibration arithmetic runs in fp32 (no fast bf16 there); the result is saved in bf16.
    model = AutoModelForCausalLM.from_pretrained(
        merged_dir, dtype=saved_dtype if torch.accelerator.is_available() else torch.float32)
    check_group_size(model, settings.group_size)
    dataset = calibration_set(tokenizer, calibration_path, settings.calibration_samples, settings.max_seq_length,
                              params.train_.seed)
    console.print(f"quantize: AWQ {settings.scheme}, group {settings.group_size}, {len(dataset)} calibration "
                  f"conversations of at most {settings.max_seq_length} tokens")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    with cpu_without_pinned_memory():
        oneshot(model=model, dataset=dataset, recipe=recipe(params), max_seq_length=settings.max_seq_length,
                num_calibration_samples=len(dataset))
    seconds = time.perf_counter() - started
    model.to(saved_dtype)  # quantized values are integers times a scale: the cast keeps them exact
    model.generation_config = merge.generation_config(merged_dir, tokenizer)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, save_compressed=True)
    tokenizer.save_pretrained(out_dir)

    size = sum(f.stat().st_size for f in out_dir.glob("*.safetensors"))
    merged_size = sum(f.stat().st_size for f in merged_dir.glob("*.safetensors"))
    metrics = {"scheme": settings.scheme, "group_size": settings.group_size, "format": "compressed-tensors",
               "calibration_samples": len(dataset), "calibration_tokens": sum(len(ids) for ids in dataset["input_ids"]),
               "seconds": round(seconds, 1), "device": "cuda" if torch.cuda.is_available() else "cpu",
               "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3)
               if torch.cuda.is_available() else None,
               "size_bytes": size, "size_vs_merged": round(size / merged_size, 3)}
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    console.print(f"quantize: {out_dir} is {size / 2**20:.0f} MiB ({metrics['size_vs_merged']:.0%} of the merged "
                  f"model), calibrated in {metrics['seconds']} s")
    return metrics
