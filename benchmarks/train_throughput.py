"""QLoRA training throughput on one GPU, side by side in one run: the seed's recipe, Unsloth, and the
project's CUDA stack, on a Qwen3-14B-shaped model with random weights (speed and memory do not depend on
weight values) and the real Qwen vocabulary. Batch 1, LoRA r=16, alpha 32, dropout 0.05 on q/k/v/o/gate/
up/down, nf4 with double quant and bf16 compute, gradient checkpointing, AdamW; the same token batches for
every stack; tokens/s is the median step after three warm-up steps.

Stacks:
- seed: `prepare_model_for_kbit_training` (fp32 up-cast) + checkpointing, as the seed's scripts do;
- project*: the training stage itself: `stages.training`'s model loading (style-token rows, PEFT
  `trainable_token_indices`), its SFTConfig and trainer class, stepped by `Trainer.train` (so TRL's bf16
  adapter cast, its fused LM-head loss, gradient clipping and the fused AdamW are all in the time);
  - project: the stage as shipped (`train.compile`, `train.activation_offloading` and
    `train.embedding_offloading` auto: each decoder layer compiled by torch.compile with its nf4 layers in
    tensor ops, checkpointed activations and the frozen input embedding in CPU memory, PyTorch's expandable
    segments);
    project_compile: without either offloading; project_eager: none of them (the stage before them);
    project_liger: the eager stage with Liger's RoPE, RMSNorm and SwiGLU kernels (`use_liger_kernel`);
- unsloth: `FastLanguageModel`, Unsloth's checkpointing, a plain loop (what Unsloth's users run).

Two kinds of batch: random ids of 2,048, 3,072 and 4,096 tokens, and "packed": conversations of the
shipped IaC corpus in the model's chat template, packed best-fit-decreasing (TRL's `pack_dataset`) into
rows of at most 3,072 tokens with positions restarting per conversation (padding-free), so every token
counts; the same rows for every stack. Each stack runs in its own process (Unsloth patches transformers
when imported):

    python -m benchmarks.train_throughput --out benchmarks/results/train_throughput.json
    python -m benchmarks.train_throughput --stacks unsloth --base /tmp/q14   # add to an existing --out
    python -m benchmarks.train_throughput --stacks project --lengths 3072 --profile /tmp/profile

`--profile DIR` adds torch.profiler over two 3,072-token steps: DIR/<stack>.txt, the kernels by GPU time,
and DIR/<stack>.trace.json.gz, the timeline (chrome://tracing, Perfetto), where the GPU's idle stretches
show which CPU work it waited for. The timings of a profiled run go to DIR/train_throughput.json.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from stages import CUDA_ALLOCATOR_CONF

STACKS = ("seed", "project", "project_compile", "project_eager", "project_liger", "unsloth")
DEFAULT_STACK = "project"  # what the training stage runs on CUDA with the shipped params
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LENGTHS = (2048, 3072, 4096)
# Every stack on PyTorch's expandable segments (Unsloth sets them on import, `qwen-iac` in stages/__init__.py), so
# reserved memory compares the stacks, not the allocator. Torch reads it when it loads: set for each child process.
ALLOCATOR = {"PYTORCH_CUDA_ALLOC_CONF": CUDA_ALLOCATOR_CONF}
PACKED_LENGTH = 3072


def random_row(length: int) -> dict[str, list[int]]:
    """The same ids in every process: a seeded CPU generator, below the style tokens' ids."""
    ids = torch.randint(0, 151_000, (length,), generator=torch.Generator().manual_seed(length)).tolist()
    return {"input_ids": ids, "labels": ids, "seq_lengths": [length]}


def packed_rows(base: Path, count: int) -> list[dict[str, Any]]:
    """The shipped IaC corpus, each conversation with its loss mask, packed into rows of <= 3,072 tokens."""
    from datasets import Dataset
    from trl import pack_dataset

    from stages import training
    from stages.rows import read_jsonl
    from tests.tiny_models import REPO

    tokenizer = training.load_tokenizer(base, "tokens")
    examples = []
    for row in read_jsonl(REPO / "data" / "raw" / "iac.jsonl"):
        example = training.tokenize({**row, "style": "TERSE" if len(examples) % 2 else "VERBOSE"}, tokenizer)
        labels = [token if mask else -100 for token, mask in zip(example["input_ids"], example["completion_mask"],
                                                                   strict=True)]
        examples.append({"input_ids": example["input_ids"], "labels": labels})
    packed = pack_dataset(Dataset.from_list(examples), PACKED_LENGTH, "bfd").to_list()
    return sorted(packed, key=lambda row: -len(row["input_ids"]))[:count]


def phases(base: Path, steps: int, lengths: tuple[int, ...], packed: bool) -> list[tuple[str, list[dict]]]:
    measured = [(f"L{length}", [random_row(length)] * steps) for length in lengths]
    return measured + ([("packed", packed_rows(base, steps))] if packed else [])


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


def project_settings(**update: Any) -> Any:
    """params.yaml's training settings with the qwen3-14b profile's QLoRA and the seed's dropout, as the
    other stacks train."""
    from stages import params
    from tests.tiny_models import REPO

    settings = params.load(REPO / "params.yaml").train_
    return settings.model_copy(update={"quantization": "nf4", "precision": "bf16", "gradient_checkpointing": True,
                                       "lora": settings.lora.model_copy(update={"dropout": 0.05}), **update})


def load_project(base: Path) -> Any:
    """The stage's model loading for the plain loop (the DDP scaling measurement of benchmarks/multi_gpu.py)."""
    from peft import get_peft_model

    from stages import training

    settings = project_settings()
    tokenizer = training.load_tokenizer(base, settings.style_markers)
    model, layout = training.load_base(base, tokenizer, settings, training.Hardware("cuda", "nf4", "bf16"))
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


def step_record(times: list[float], tokens: int, losses: list[float], processes: int = 1,
                warm_up: int = 3) -> dict[str, Any]:
    step = sorted(times[warm_up:])[len(times[warm_up:]) // 2]
    return {"step_s": round(step, 3), "tokens_per_s": round(processes * tokens / step, 1), "tokens": tokens,
            "processes": processes, "step_times_s": [round(seconds, 3) for seconds in times],
            "losses": [round(loss, 5) for loss in losses],
            "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
            "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2)}


class StepProfiler:
    """torch.profiler over two steps of the 3,072-token phase after its warm-up (`--profile DIR`): the kernels
    by GPU time, written to DIR/<stack>.txt. `step()` after every training step; a no-op without DIR."""

    def __init__(self, stack: str, plan: list[tuple[str, list[dict]]], out: Path | None) -> None:
        self.profiler = None
        names = [name for name, _ in plan]
        if out is None or "L3072" not in names:
            return
        before = sum(len(rows) for _, rows in plan[: names.index("L3072")])
        out.mkdir(parents=True, exist_ok=True)

        def write(profiler: Any) -> None:
            table = profiler.key_averages().table(sort_by="self_cuda_time_total", row_limit=45,
                                                  max_name_column_width=90)
            (out / f"{stack}.txt").write_text(table)
            # the timeline, for finding where the GPU waits on the CPU (torch gzips it for the suffix)
            profiler.export_chrome_trace(str(out / f"{stack}.trace.json.gz"))

        self.profiler = torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA],
            schedule=torch.profiler.schedule(wait=before + 4, warmup=1, active=2, repeat=1), on_trace_ready=write)
        self.profiler.start()

    def step(self) -> None:
        if self.profiler is not None:
            self.profiler.step()


def measure_loop(stack: str, base: Path, plan: list[tuple[str, list[dict]]], ddp: bool = False,
                 profiler: StepProfiler | None = None) -> dict[str, Any]:
    """A plain training loop: the seed recipe, Unsloth, and the project stacks under DDP. `ddp`: under
    `accelerate launch`, every process trains its own copy on its own batch and the LoRA gradients are
    averaged each step, as the training stage's DDP does; tokens/s counts every process."""
    started = time.perf_counter()
    if stack == "unsloth":  # first: it patches transformers on import
        model = load_unsloth(base)
    elif stack == "seed":
        model = load_seed(base)
    else:
        model = load_project(base)
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
    for name, rows in plan:
        torch.cuda.empty_cache()  # each phase's peak reserved from its own allocations, not the last phase's cache
        torch.cuda.reset_peak_memory_stats()
        times, losses = [], []
        try:
            for row in rows:
                positions = torch.cat([torch.arange(length) for length in row["seq_lengths"]])
                inputs = {"input_ids": torch.tensor([row["input_ids"]]).cuda(), "position_ids": positions[None].cuda(),
                          "labels": torch.tensor([row["labels"]]).cuda()}
                inputs["labels"][inputs["position_ids"] == 0] = -100  # no prediction across conversations
                torch.cuda.synchronize()
                step_start = time.perf_counter()
                loss = model(**inputs).loss
                backward(loss)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                torch.cuda.synchronize()
                times.append(time.perf_counter() - step_start)
                losses.append(float(loss.detach()))
                if profiler:
                    profiler.step()
        except torch.OutOfMemoryError:
            result[name] = "out of memory"
            optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            continue
        result[name] = step_record(times, sum(len(row["input_ids"]) for row in rows) // len(rows), losses, processes)
    return result


def measure_stage(stack: str, base: Path, plan: list[tuple[str, list[dict]]],
                  profiler: StepProfiler | None = None) -> dict[str, Any]:
    """The training stage's own trainer over the planned rows, one row a step, timed by a callback from the
    start to the end of each optimizer step (forward, backward, clipping, optimizer)."""
    from datasets import Dataset
    from transformers import TrainerCallback

    from stages import params, sft_trainer, training
    from tests.tiny_models import REPO

    eager = stack in ("project_eager", "project_liger")
    offloading = "none" if eager or stack == "project_compile" else "auto"
    settings = project_settings(
        paired_styles=True,  # sequential sampling: the rows run in the planned phases' order
        compile="none" if eager else "auto", activation_offloading=offloading, embedding_offloading=offloading)
    rows = [row for _, phase_rows in plan for row in phase_rows]
    stage = params.load(REPO / "params.yaml").train_stage1.model_copy(update={
        "max_length": max(len(row["input_ids"]) for row in rows), "batch_size": 1, "gradient_accumulation_steps": 1,
        "max_steps": len(rows), "save_steps": 10 * len(rows), "logging_steps": 1, "learning_rate": 1e-4})
    hardware = training.choose_hardware(settings)
    started = time.perf_counter()
    tokenizer = training.load_tokenizer(base, settings.style_markers)
    model, layout = training.load_base(base, tokenizer, settings, hardware)
    result: dict[str, Any] = {"load_s": round(time.perf_counter() - started, 1),
                              "weights_gib": round(torch.cuda.memory_allocated() / 2**30, 2)}
    args = training.sft_config(stage, settings, hardware, Path(tempfile.mkdtemp()), "train_stage1")
    args.padding_free = True  # the packed rows carry their conversations' lengths; one-row steps are unchanged
    args.max_length = None  # the rows are built to length: nothing to truncate
    args.dataset_kwargs = {"skip_prepare_dataset": True}
    if stack == "project_liger":
        args.use_liger_kernel, args.liger_kernel_config = True, {"rope": True, "rms_norm": True, "swiglu": True}
    boundaries = {sum(len(phase_rows) for _, phase_rows in plan[:index]): name for index, (name, _) in enumerate(plan)}
    ends = {start + len(phase_rows): name for start, (name, phase_rows) in zip(boundaries, plan, strict=True)}

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.peaks: dict[str, tuple[int, int]] = {}

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            torch.cuda.synchronize()
            if state.global_step in boundaries:
                torch.cuda.empty_cache()  # as in measure_loop
                torch.cuda.reset_peak_memory_stats()
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.started)
            if profiler:
                profiler.step()
            if state.global_step in ends:
                self.peaks[ends[state.global_step]] = (torch.cuda.max_memory_allocated(),
                                                       torch.cuda.max_memory_reserved())

    timer = StepTimer()
    trainer = sft_trainer.trainer_class()(
        model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        peft_config=training.lora_config(settings, layout), callbacks=[timer])
    result["hardware"] = asdict(training.apply_hardware(trainer, hardware, settings))  # as stages/train.py does
    try:
        trainer.train()
    except torch.OutOfMemoryError:
        result["error"] = "out of memory"
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    for start, (name, phase_rows) in zip(boundaries, plan, strict=True):
        if name not in timer.peaks:
            result[name] = "out of memory"
            continue
        record = step_record(timer.times[start:start + len(phase_rows)],
                             sum(len(row["input_ids"]) for row in phase_rows) // len(phase_rows),
                             losses[start:start + len(phase_rows)])
        record["peak_allocated_gib"], record["peak_reserved_gib"] = (round(p / 2**30, 2) for p in timer.peaks[name])
        result[name] = record
    return result


def summary(stacks: dict[str, Any], gpu: str) -> dict[str, Any]:
    """The issue's ratios at 3,072 tokens for the training stage's CUDA stack ("project"), and the same for
    each candidate stack that is not the default."""
    def at(stack: str, phase: str, key: str) -> Any:
        measured = stacks.get(stack, {}).get(phase)
        return measured[key] if isinstance(measured, dict) else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    def ratios(stack: str) -> dict[str, Any]:
        seed_loss, loss = at("seed", "L2048", "losses"), at(stack, "L2048", "losses")  # before any update
        return {"speedup_3072": ratio(at(stack, "L3072", "tokens_per_s"), at("seed", "L3072", "tokens_per_s")),
                "vs_unsloth_3072": ratio(at(stack, "L3072", "tokens_per_s"), at("unsloth", "L3072", "tokens_per_s")),
                "peak_reserved_gib_3072": at(stack, "L3072", "peak_reserved_gib"),
                "loss_rel_diff_first_steps": round(abs(loss[0] - seed_loss[0]) / seed_loss[0], 5)
                if loss and seed_loss else None,
                "packed_vs_unsloth": ratio(at(stack, "packed", "tokens_per_s"),
                                           at("unsloth", "packed", "tokens_per_s")),
                "packed_peak_reserved_gib": at(stack, "packed", "peak_reserved_gib")}

    candidates = [stack for stack in STACKS if stack.startswith("project") and stack != DEFAULT_STACK]
    return {"gpu": gpu, "project_stack": DEFAULT_STACK, **ratios(DEFAULT_STACK),
            "unsloth_peak_reserved_gib_3072": at("unsloth", "L3072", "peak_reserved_gib"),
            "candidates": {stack: ratios(stack) for stack in candidates if stack in stacks}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_throughput.json"))
    parser.add_argument("--base", type=Path, default=Path("/tmp/q14"), help="built here when missing")
    parser.add_argument("--stacks", nargs="+", choices=STACKS, default=list(STACKS))
    parser.add_argument("--steps", type=int, default=10, help="per length, the first three being warm-up")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--ddp", action="store_true", help="under accelerate launch: every process trains")
    parser.add_argument("--profile", type=Path, help="write each stack's kernel table (two 3,072-token steps) here")
    parser.add_argument("--one", choices=STACKS, help=argparse.SUPPRESS)  # a child process: one stack
    args = parser.parse_args()
    if args.ddp and args.one != "project":
        parser.error("--ddp places a model per process for the project stack only")
    if args.profile and args.steps < 7:
        parser.error("--profile records steps 6 and 7 of the 3,072-token phase: --steps 7 or more")
    if args.profile:  # profiled steps run slower: their timings go beside the profiles, never into --out
        args.out = args.profile / "train_throughput.json"
    if args.one:
        plan = phases(args.base, args.steps, tuple(args.lengths), packed=args.one != "seed" and not args.ddp)
        profiler = StepProfiler(args.one, plan, args.profile)
        if args.ddp:
            result = measure_loop(args.one, args.base, plan, ddp=True)
        elif args.one.startswith("project"):
            result = measure_stage(args.one, args.base, plan, profiler)
        else:
            result = measure_loop(args.one, args.base, plan, profiler=profiler)
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
                                str(args.base), "--steps", str(args.steps), "--lengths", *map(str, args.lengths),
                                *(["--profile", str(args.profile)] if args.profile else [])],
                               capture_output=True, text=True, env={**os.environ, **ALLOCATOR})
        lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        report["stacks"][stack] = json.loads(lines[-1][7:]) if lines else {"error": child.stderr[-3000:]}
        print(stack, json.dumps(report["stacks"][stack]), flush=True)
        report["summary"] = summary(report["stacks"], report["gpu"])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
