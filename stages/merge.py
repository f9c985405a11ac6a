"""Stage `merge`: the base plus models/complete_adapter → models/merged/, one set of weights in bf16
safetensors with the tokenizer (style tokens), chat template and generation config, which transformers
and vLLM load as a plain model (DESIGN.md decisions 7 and 9). `merge.base` picks what the adapter is added
to: the original weights, or their NF4 round-trip, the weights a QLoRA adapter was trained against."""

import json
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from stages import training
from stages.params import Params

DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}
NF4_BLOCK_SIZE = 64  # what bitsandbytes' Linear4bit uses when transformers loads a model in 4 bits


def nf4_roundtrip(model: Any) -> int:
    """Quantize every Linear that QLoRA loading quantizes (all but the output head) to nf4 with double
    quantization, and dequantize it back, in place. Returns how many layers changed."""
    import bitsandbytes.functional as bnb

    head = model.get_output_embeddings()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
    with torch.no_grad():
        for layer in layers:
            # QLoRA quantizes the bf16 weights it loads, and dequantizes to its bf16 compute dtype.
            packed, state = bnb.quantize_4bit(layer.weight.to(torch.bfloat16), blocksize=NF4_BLOCK_SIZE,
                                              compress_statistics=True, quant_type="nf4")
            layer.weight.copy_(bnb.dequantize_4bit(packed, state, quant_type="nf4").to(layer.weight.dtype))
    return len(layers)


def generation_config(base_dir: Path, tokenizer: Any) -> Any:
    """The base's generation config, made to stop at the chat template's end of turn."""
    from transformers import GenerationConfig

    config = GenerationConfig.from_pretrained(base_dir) if (base_dir / "generation_config.json").exists() \
        else GenerationConfig()
    stops = config.eos_token_id if isinstance(config.eos_token_id, list) else [config.eos_token_id]
    config.eos_token_id = [tokenizer.eos_token_id, *[t for t in stops if t not in (None, tokenizer.eos_token_id)]]
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return config


def merged_model(params: Params, base_dir: Path, adapter_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, facts): the adapter merged into the chosen base, in merge.dtype, on the CPU."""
    from peft import PeftModel

    settings = params.train_
    hardware = training.Hardware("cpu", "none", DTYPES[params.merge.dtype])
    tokenizer = training.load_tokenizer(adapter_dir, settings.style_markers)
    model, layout = training.load_base(base_dir, tokenizer, settings, hardware)
    roundtripped = nf4_roundtrip(model) if params.merge.base == "nf4_roundtrip" else 0
    model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    facts = {"merge_base": params.merge.base, "dtype": params.merge.dtype, "layers_nf4_roundtripped": roundtripped,
             "embedding_rows": model.get_input_embeddings().weight.shape[0], "style_tokens": layout["token_ids"]}
    return model, tokenizer, facts


def run(params: Params, base_dir: Path = Path("models/base"), adapter_dir: Path = Path("models/complete_adapter"),
        out_dir: Path = Path("models/merged"), metrics_path: Path = Path("metrics/merge.json"),
        console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    started = time.perf_counter()
    model, tokenizer, facts = merged_model(params, base_dir, adapter_dir)
    model.generation_config = generation_config(base_dir, tokenizer)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    metrics = {**facts, "parameters": sum(p.numel() for p in model.parameters()),
               "adapter_sha256": training.file_sha256(adapter_dir / "adapter_model.safetensors"),
               "size_bytes": sum(f.stat().st_size for f in out_dir.glob("*.safetensors")),
               "seconds": round(time.perf_counter() - started, 1)}
    (out_dir / "README.md").write_text(
        f"# qwen-iac merged model\n\n`models/complete_adapter` merged into the {params.merge.base} base weights "
        f"by `qwen-iac merge`; load with `AutoModelForCausalLM.from_pretrained` or serve with vLLM.\n\n"
        f"```json\n{json.dumps(metrics, indent=2)}\n```\n", encoding="utf-8")
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    console.print(f"merge: {params.merge.base} base + adapter -> {out_dir} ({params.merge.dtype}, "
                  f"{metrics['size_bytes'] / 2**20:.0f} MiB, {metrics['seconds']} s)")
    return metrics
