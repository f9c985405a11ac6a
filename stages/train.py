"""Stages `train_stage1` and `train_stage2`. Stage 1 teaches the style tokens on the verbosity pairs and
writes models/stage1_adapter/; stage 2 loads that same adapter trainable and continues it on IaC plus
the stage-1 replay from the split, writing models/complete_adapter/ (DESIGN.md decisions 4-6).
A rerun after an interruption resumes from the last checkpoint in checkpoints/<stage>/."""

import json
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from stages import PipelineError, distributed, sft_trainer, training
from stages.params import Params
from stages.rows import read_jsonl


@dataclass(frozen=True)
class Paths:
    train: Path
    eval: Path
    out: Path
    previous_adapter: Path | None = None  # stage 2 continues this one


def default_paths(stage: str) -> Paths:
    splits = Path("data/splits")
    if stage == "train_stage1":
        return Paths(splits / "stage1_train.jsonl", splits / "stage1_eval.jsonl", Path("models/stage1_adapter"))
    return Paths(splits / "stage2_train.jsonl", splits / "iac_heldout.jsonl", Path("models/complete_adapter"),
                 Path("models/stage1_adapter"))


def _fingerprint(params: Params, stage: str, base_dir: Path, paths: Paths) -> dict[str, Any]:
    """What a checkpoint belongs to: resuming is only right for the same params and inputs."""
    base_files = sorted((p.name, p.stat().st_size) for p in base_dir.iterdir() if p.is_file())
    inputs = {"train": training.file_sha256(paths.train), "base_config": training.file_sha256(base_dir / "config.json"),
              "base_files": base_files}
    if paths.previous_adapter:
        inputs["previous_adapter"] = training.file_sha256(paths.previous_adapter / "adapter_model.safetensors")
    # How fast a step runs is not what it computes: a run resumes across compile and offloading settings.
    train = params.train_.model_dump(exclude={"compile", "activation_offloading", "embedding_offloading"})
    return {"stage": stage, "params": params.train(stage).model_dump(), "train": train,
            "inputs": inputs}


def _model_card(params: Params, stage: str, paths: Paths, metrics: dict[str, Any], base_metrics: dict) -> str:
    data = {"train": str(paths.train), "train_sha256": training.file_sha256(paths.train),
            "eval": str(paths.eval), "eval_sha256": training.file_sha256(paths.eval)}
    lines = [
        f"# qwen-iac {stage} adapter", "",
        f"LoRA adapter for `{base_metrics.get('source', {}).get('uri', '?')}` "
        f"(revision `{base_metrics.get('source', {}).get('revision')}`), trained by `qwen-iac {stage}`.", "",
        "Load it with `stages.training.load_base` (which rebuilds the embedding layout the adapter was "
        "trained on) and `peft.PeftModel.from_pretrained`. The tokenizer here carries the style tokens "
        "and the chat template; prompts start the user turn with `<STYLE_TERSE>` or `<STYLE_VERBOSE>`.", "",
    ]
    for title, body in (("Base model", base_metrics.get("source", {})), ("Data", data),
                        ("Parameters", {"train": params.train_.model_dump(), stage: params.train(stage).model_dump()}),
                        ("Metrics", metrics)):
        lines += [f"## {title}", "", "```json", json.dumps(body, indent=2), "```", ""]
    return "\n".join(lines)


def load_for_training(params: Params, base_dir: Path, paths: Paths, hardware: training.Hardware) -> tuple:
    """(model, tokenizer, layout, peft_config). Stage 1: the base and a new LoRA config for TRL.
    Stage 2: the base with the same token layout, and stage 1's adapter loaded trainable; no second
    peft_config, which would start a new adapter (DESIGN.md decision 5)."""
    from peft import PeftModel

    settings = params.train_
    tokenizer = training.load_tokenizer(paths.previous_adapter or base_dir, settings.style_markers)
    model, layout = training.load_base(base_dir, tokenizer, settings, hardware)
    if paths.previous_adapter is None:
        return model, tokenizer, layout, training.lora_config(settings, layout)
    model = PeftModel.from_pretrained(model, paths.previous_adapter, is_trainable=True)
    if settings.distributed.fsdp and hardware.dtype != torch.float32:
        # FSDP flattens each unit into one tensor of one dtype. PEFT loads the adapter in fp32, and TRL casts
        # only the trainable part to the compute dtype: the frozen style rows (freeze_style_rows) stay fp32.
        for parameter in model.parameters():
            if parameter.dtype == torch.float32:
                parameter.data = parameter.data.to(hardware.dtype)
    if params.train_stage2.freeze_style_rows:
        for name, parameter in model.named_parameters():
            if "trainable_tokens" in name:  # PEFT's trainable-token rows
                parameter.requires_grad_(False)
    return model, tokenizer, layout, None


def run(params: Params, stage: str, *, base_dir: Path = Path("models/base"), paths: Paths | None = None,
        checkpoint_dir: Path | None = None, live_dir: Path | None = None, metrics_path: Path | None = None,
        base_metrics_path: Path = Path("metrics/base_model.json"), callbacks: list | None = None,
        console: Console | None = None) -> dict[str, Any]:
    """`callbacks`: extra transformers TrainerCallbacks, e.g. progress hooks."""
    from transformers import set_seed

    console = console or Console()
    paths = paths or default_paths(stage)
    checkpoint_dir = checkpoint_dir or Path("checkpoints") / stage
    live_dir = live_dir or Path("reports/curves") / stage
    metrics_path = metrics_path or Path("metrics") / f"{stage}.json"
    settings, stage_params = params.train_, params.train(stage)

    training.check_context(base_dir, stage_params.max_length, stage)
    distributed.check_launched(settings.distributed)
    hardware = training.choose_hardware(settings)
    if hardware.device == "cuda":  # each launched process on its own GPU, the 4-bit weights included
        torch.cuda.set_device(distributed.local_rank())
    set_seed(settings.seed)  # before the adapter exists: LoRA's initial weights come from this seed
    model, tokenizer, layout, peft_config = load_for_training(params, base_dir, paths, hardware)
    train_rows = list(read_jsonl(paths.train))
    if settings.paired_styles:
        train_rows = training.paired_order(train_rows, settings.seed)
    train_set = training.dataset(train_rows, tokenizer, stage_params.max_length, str(paths.train))
    eval_rows = list(read_jsonl(paths.eval))[: stage_params.eval_examples or None]
    eval_set = training.dataset(eval_rows, tokenizer, stage_params.max_length, str(paths.eval))

    args = training.sft_config(stage_params, settings, hardware, checkpoint_dir, stage)
    if args.device.type == "cpu" and args.device.index is not None:  # sets up the process group, if several
        # accelerate names each CPU process's device cpu:<index>; resuming loads the optimizer state onto
        # args.device, which torch.load cannot ("don't know how to restore data location ... cpu:0").
        args.__dict__["_setup_devices"] = torch.device("cpu")  # the same device, as TrainingArguments caches it
    main = args.process_index == 0  # only process 0 writes checkpoints' stamps, curves, adapter and metrics
    if main:
        checkpoint = training.last_checkpoint(checkpoint_dir, _fingerprint(params, stage, base_dir, paths))
    args.distributed_state.wait_for_everyone()  # the others resume from what process 0 kept
    if not main:
        checkpoint = training.latest_checkpoint(checkpoint_dir)
    resume_step = int(Path(checkpoint).name.split("-")[-1]) if checkpoint else None
    curves = [training.curves_callback(live_dir, resume_step)] if main else []
    trainer = sft_trainer.trainer_class(stage_params.style_rows_lr_multiplier)(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set, processing_class=tokenizer,
        peft_config=peft_config, callbacks=[*curves, *(callbacks or [])])
    hardware = training.apply_hardware(trainer, hardware, settings)
    # counted before training: under FSDP a parameter is then a view of this process's shard
    trainable_parameters = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    if main:
        console.print(f"{stage}: {len(train_set)} examples on {hardware.device} ({hardware.quantization}, "
                      f"{hardware.precision}) in {args.world_size} process(es); "
                      + (f"resuming from {checkpoint}" if checkpoint else "from the start"))

    if hardware.device == "cuda":
        torch.cuda.reset_peak_memory_stats()  # this stage's peak, not the process's
    started, tokens_before = time.perf_counter(), 0
    if checkpoint:
        tokens_before = json.loads((Path(checkpoint) / "trainer_state.json").read_text())["num_input_tokens_seen"]
    try:
        trainer.train(resume_from_checkpoint=checkpoint)
    except torch.OutOfMemoryError:
        raise PipelineError(training.out_of_memory_advice(stage, training.latest_checkpoint(checkpoint_dir))) from None
    wall = time.perf_counter() - started
    evaluation = trainer.evaluate()

    state = trainer.state
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    full_state = None
    if trainer.is_fsdp_enabled:  # every process hands its shards to process 0
        full_state = trainer.accelerator.get_state_dict(trainer.model_wrapped)
    trained = trainer.accelerator.unwrap_model(trainer.model)
    metrics = {
        "stage": stage,
        "steps": state.global_step,
        "epochs": round(state.epoch or 0.0, 4),
        "examples": len(train_set),
        "examples_by_source": dict(sorted(Counter(row["source"] for row in train_rows).items())),
        "final_loss": round(losses[-1], 4) if losses else None,
        "eval_loss": round(evaluation["eval_loss"], 4),
        "tokens_seen": int(state.num_input_tokens_seen),
        "tokens_per_second": round((state.num_input_tokens_seen - tokens_before) / wall, 1),
        "wall_seconds": round(wall, 1),
        "peak_memory_gib": training.peak_memory_gib(hardware),
        "resumed_from": checkpoint,
        "processes": args.world_size,
        "global_batch": args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size,
        "hardware": asdict(hardware),
        "trainable_parameters": trainable_parameters,
        "style_tokens": layout,
    }
    args.distributed_state.wait_for_everyone()
    if args.world_size > 1:
        args.distributed_state.destroy_process_group()
    if not main:
        return metrics
    if paths.out.exists():
        shutil.rmtree(paths.out)
    # load_base rebuilds the layout; the adapter holds the two trained rows, never whole embeddings.
    trained.save_pretrained(paths.out, save_embedding_layers=False, state_dict=full_state)
    tokenizer.save_pretrained(paths.out)
    base_metrics = json.loads(base_metrics_path.read_text()) if base_metrics_path.exists() else {}
    (paths.out / "README.md").write_text(_model_card(params, stage, paths, metrics, base_metrics), encoding="utf-8")
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(checkpoint_dir)  # the adapter is saved: nothing left to resume
    console.print(f"{stage}: {metrics['steps']} steps, loss {metrics['final_loss']}, eval loss "
                  f"{metrics['eval_loss']}, {metrics['tokens_per_second']} tokens/s -> {paths.out}")
    return metrics
