"""QLoRA training throughput on one GPU, side by side in one run: the seed's recipe, Unsloth, and the
project's CUDA stack, on a Qwen3-14B-shaped model with random weights (speed and memory do not depend on
weight values) and the real Qwen vocabulary. Batch 1, LoRA r=16, alpha 32, dropout 0.05 on q/k/v/o/gate/
up/down, nf4 with double quant and bf16 compute, gradient checkpointing, AdamW; the same token batches for
every stack; tokens/s is the median step after two warm-up steps.

Stacks:
- seed: `prepare_model_for_kbit_training` (fp32 up-cast) + checkpointing, as the seed's scripts do;
- project: the training stage's own model loading (`stages.training.load_base`, style-token rows, PEFT
  `trainable_token_indices`), no up-cast;
- project_liger: the same with Liger's kernels, applied as TRL's `use_liger_kernel` applies them;
- unsloth: `FastLanguageModel`, Unsloth's checkpointing.

Each stack runs in its own process (Unsloth patches transformers when imported):

    python -m benchmarks.train_throughput --out benchmarks/results/train_throughput.json
    python -m benchmarks.train_throughput --stacks unsloth --base /tmp/q14   # add to an existing --out
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

STACKS = ("seed", "project", "project_liger", "unsloth")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LENGTHS = (2048, 3072, 4096)


def batch(length: int) -> torch.Tensor:
    """The same ids in every process: a seeded CPU generator, below the style tokens' ids."""
    return torch.randint(0, 151_000, (1, length), generator=torch.Generator().manual_seed(length)).cuda()


def load_seed(base: Path) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16, device_map={"": 0},
                                                 attn_implementation="sdpa", quantization_config=BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16))
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True,
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    return get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, bias="none",
                                            task_type="CAUSAL_LM", target_modules=TARGETS))


def load_project(base: Path, liger: bool) -> Any:
    from peft import get_peft_model

    from stages import params, training
    from tests.tiny_models import REPO

    settings = params.load(REPO / "params.yaml").train_
    # the seed's dropout, as the other stacks use (params.yaml's embedded default trains without)
    settings = settings.model_copy(update={"lora": settings.lora.model_copy(update={"dropout": 0.05})})
    tokenizer = training.load_tokenizer(base, settings.style_markers)
    model, layout = training.load_base(base, tokenizer, settings, training.Hardware("cuda", "nf4", "bf16"))
    if liger:  # what transformers' Trainer does for TrainingArguments(use_liger_kernel=True)
        from liger_kernel.transformers import _apply_liger_kernel_to_instance

        _apply_liger_kernel_to_instance(model=model)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
    return get_peft_model(model, training.lora_config(settings, layout))


def load_unsloth(base: Path) -> Any:
    from unsloth import FastLanguageModel

    model, _ = FastLanguageModel.from_pretrained(str(base), max_seq_length=max(LENGTHS), load_in_4bit=True,
                                                 dtype=torch.bfloat16)
    return FastLanguageModel.get_peft_model(model, r=16, lora_alpha=32, lora_dropout=0.05, bias="none",
                                            target_modules=TARGETS, use_gradient_checkpointing="unsloth",
                                            random_state=42)


def measure(stack: str, base: Path, steps: int, lengths: tuple[int, ...] = LENGTHS, ddp: bool = False,
            warm_up: int = 2) -> dict[str, Any]:
    """`ddp`: under `accelerate launch`, every process trains its own copy on its own batch and the LoRA
    gradients are averaged each step, as the training stage's DDP does; tokens/s counts every process."""
    started = time.perf_counter()
    if stack == "unsloth":  # first: it patches transformers on import
        model = load_unsloth(base)
    elif stack == "seed":
        model = load_seed(base)
    else:
        model = load_project(base, liger=stack == "project_liger")
    result: dict[str, Any] = {"load_s": round(time.perf_counter() - started, 1),
                              "weights_gib": round(torch.cuda.memory_allocated() / 2**30, 2)}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    processes, backward = 1, torch.Tensor.backward
    if ddp:
        from accelerate import Accelerator

        accelerator = Accelerator()
        model, optimizer = accelerator.prepare(model, optimizer)
        processes, backward = accelerator.num_processes, accelerator.backward
    model.train()
    for length in lengths:
        ids = batch(length)
        torch.cuda.reset_peak_memory_stats()
        times, losses = [], []
        try:
            for _ in range(steps):
                torch.cuda.synchronize()
                step_start = time.perf_counter()
                loss = model(input_ids=ids, labels=ids).loss
                backward(loss)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - step_start)
                losses.append(round(float(loss.detach()), 5))
        except torch.OutOfMemoryError:
            result[f"L{length}"] = "out of memory"
            optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            continue
        step = sorted(times[warm_up:])[len(times[warm_up:]) // 2]
        result[f"L{length}"] = {"step_s": round(step, 3), "tokens_per_s": round(processes * length / step, 1),
                                "processes": processes, "losses": losses,
                                "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                                "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2)}
    return result


def summary(stacks: dict[str, Any], gpu: str) -> dict[str, Any]:
    """The issue's ratios at 3,072 tokens for the training stage's CUDA stack today ("project"), and the same
    for each candidate stack that is not the default yet."""
    def at_3072(stack: str, key: str) -> Any:
        measured = stacks.get(stack, {}).get("L3072")
        return measured[key] if isinstance(measured, dict) else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    def first_loss(stack: str) -> float | None:  # the very first step, 2,048 tokens, before any update
        measured = stacks.get(stack, {}).get("L2048")
        return measured["losses"][0] if isinstance(measured, dict) else None

    def ratios(stack: str) -> dict[str, Any]:
        seed_loss, loss = first_loss("seed"), first_loss(stack)
        return {"speedup_3072": ratio(at_3072(stack, "tokens_per_s"), at_3072("seed", "tokens_per_s")),
                "vs_unsloth_3072": ratio(at_3072(stack, "tokens_per_s"), at_3072("unsloth", "tokens_per_s")),
                "peak_reserved_gib_3072": at_3072(stack, "peak_reserved_gib"),
                "loss_rel_diff_first_steps": round(abs(loss - seed_loss) / seed_loss, 5) if loss and seed_loss
                else None}

    return {"gpu": gpu, "project_stack": "project", **ratios("project"),
            "unsloth_peak_reserved_gib_3072": at_3072("unsloth", "peak_reserved_gib"),
            "packed_vs_unsloth": None,  # not measured yet
            "candidates": {"project_liger": ratios("project_liger")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_throughput.json"))
    parser.add_argument("--base", type=Path, default=Path("/tmp/q14"), help="built here when missing")
    parser.add_argument("--stacks", nargs="+", choices=STACKS, default=list(STACKS))
    parser.add_argument("--steps", type=int, default=6, help="per length, the first two being warm-up")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--ddp", action="store_true", help="under accelerate launch: every process trains")
    parser.add_argument("--one", choices=STACKS, help=argparse.SUPPRESS)  # a child process: one stack
    args = parser.parse_args()
    if args.ddp and args.one not in ("project", "project_liger"):
        parser.error("--ddp places a model per process for the project stacks only")
    if args.one:
        result = measure(args.one, args.base, args.steps, tuple(args.lengths), args.ddp)
        if int(os.environ.get("RANK", "0")) == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    if not (args.base / "config.json").exists():
        from benchmarks.qwen3_14b_profiles import build_base

        build_base(args.base)
    report = json.loads(args.out.read_text()) if args.out.exists() else {"stacks": {}}
    report.update(what=__doc__.split("\n\n")[0].replace("\n", " "), gpu=torch.cuda.get_device_name(0),
                  steps_per_length=args.steps)
    for stack in args.stacks:
        child = subprocess.run([sys.executable, "-m", "benchmarks.train_throughput", "--one", stack, "--base",
                                str(args.base), "--steps", str(args.steps)], capture_output=True, text=True,
                               env={**os.environ})
        lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        report["stacks"][stack] = json.loads(lines[-1][7:]) if lines else {"error": child.stderr[-3000:]}
        print(stack, json.dumps(report["stacks"][stack]), flush=True)
        report["summary"] = summary(report["stacks"], report["gpu"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
