"""What the two training stages share: the hardware choice and what it applies to the trainer, the base model
with its style-token layout, the tokenised examples with their loss mask, and the TRL arguments (DESIGN.md
decisions 2-6); the trainer class is stages/sft_trainer.py."""

import hashlib
import json
import random
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from stages import PipelineError, chat, distributed, style_tokens
from stages.params import TrainingParams, TrainParams
from stages.rows import normalise, prompt_text


@dataclass(frozen=True)
class Hardware:
    device: str  # cuda | cpu
    quantization: str  # nf4 | none
    precision: str  # bf16 | fp16 | fp32
    compile_layers: bool = False
    offload_activations: bool = False
    offload_embedding: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]


def choose_hardware(settings: TrainingParams) -> Hardware:
    cuda = torch.cuda.is_available()
    bf16_ok = cuda and torch.cuda.is_bf16_supported()
    quantization = settings.quantization
    if quantization == "auto":
        quantization = "nf4" if cuda else "none"
    precision = settings.precision
    if precision == "auto":
        precision = "bf16" if bf16_ok else "fp32"
    if precision == "bf16" and cuda and not bf16_ok:
        raise PipelineError("train.precision: bf16 is not supported by this GPU (allowed: auto, fp16, fp32)")
    if precision in ("bf16", "fp16") and not cuda:
        # Mixed precision on a CPU without bf16 units is slower than fp32 and gains nothing.
        raise PipelineError(f"train.precision: {precision} needs a CUDA GPU here (allowed on CPU: auto, fp32)")
    if quantization == "nf4" and precision == "fp16":
        raise PipelineError("train.precision: fp16 with nf4 crashes TRL's QLoRA path (use bf16 or fp32)")
    # The three are measured on one GPU (benchmarks/train_throughput.py); several processes keep the eager path
    # that benchmarks/multi_gpu.py measured.
    processes = settings.distributed.processes
    one_gpu = cuda and processes == 1
    compile_layers = settings.compile == "layers" or (settings.compile == "auto" and one_gpu)
    offload = settings.activation_offloading == "cpu" or (
        settings.activation_offloading == "auto" and one_gpu and settings.gradient_checkpointing)
    offload_embedding = settings.embedding_offloading == "cpu" or (settings.embedding_offloading == "auto" and one_gpu)
    chosen_here = {"compile": settings.compile == "layers", "activation_offloading": offload,
                   "embedding_offloading": offload_embedding}
    for key, chosen in chosen_here.items():
        if chosen and key != "compile" and not cuda:
            raise PipelineError(f"train.{key}: cpu needs a CUDA GPU (allowed on CPU: auto, none)")
        if chosen and processes > 1:
            raise PipelineError(f"train.{key}: {getattr(settings, key)} is measured on one GPU only; with "
                                f"train.distributed.processes {processes} (allowed: auto, none)")
    return Hardware("cuda" if cuda else "cpu", quantization, precision, compile_layers, offload, offload_embedding)


def compile_layers(model: Any) -> None:
    """torch.compile each decoder layer in place (regional compilation: one compiled graph serves all the
    layers, and parameter names stay as PEFT saves them). Inductor fuses what runs between the matrix
    multiplications: RMSNorm, RoPE, SwiGLU, LoRA's dropout, scaling and addition; the nf4 layers compute
    in tensor ops that it compiles too (stages/nf4.py)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    from stages import nf4

    layers = [module for module in model.modules() if isinstance(module, GradientCheckpointingLayer)]
    if not layers:
        raise PipelineError(f"train.compile: no decoder layers found in {type(model).__name__} to compile "
                            "(allowed: auto, layers, none; set none)")
    nf4.use_tensor_ops(layers)
    for layer in layers:
        layer.compile()  # at the second sequence length dynamo recompiles once, with dynamic shapes


def apply_hardware(trainer: Any, hardware: Hardware, settings: TrainingParams) -> Hardware:
    """What `hardware` chose beyond TRL's arguments, on the trainer's model: the decoder layers compiled, and
    then the activation offloading, if on, without TRL's per-step synchronisations, which the compiled nf4
    layers make needless (stages/offloading.py); the frozen input embedding in CPU memory (stages/embedding.py).
    Returns what was applied: `embedding_offloading: auto` keeps a table the output layer shares (tied) on the
    GPU."""
    from stages import embedding, offloading

    if hardware.compile_layers:
        compile_layers(trainer.model)
        offloading.drop_step_syncs(getattr(trainer, "maybe_activation_offload_context", None))
    refusal = embedding.keep_embedding_on_host(trainer.model) if hardware.offload_embedding else None
    if refusal and settings.embedding_offloading == "cpu":
        raise PipelineError(f"train.embedding_offloading: cpu cannot move this model's input embedding to CPU "
                            f"memory: {refusal} (allowed: auto, none)")
    return replace(hardware, offload_embedding=False) if refusal else hardware


def load_tokenizer(source: Path, markers: style_tokens.StyleMarkers) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    chat.require_chat_template(tokenizer, str(source))
    style_tokens.add_to_tokenizer(tokenizer, markers)
    return tokenizer


def load_base(base_dir: Path, tokenizer: Any, settings: TrainingParams, hardware: Hardware) -> tuple[Any, dict]:
    """The base model with the style-token layout: the same call in both stages, so stage 2's base has
    exactly the rows stage 1's adapter was trained against."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    fsdp = settings.distributed.fsdp
    quantization_config = None
    if hardware.quantization == "nf4":
        compute = torch.bfloat16 if hardware.precision == "bf16" else torch.float32
        quantization_config = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
            # FSDP shards flat tensors of one dtype: the packed 4-bit weights are stored in the compute dtype
            bnb_4bit_quant_storage=compute if fsdp else torch.uint8)
    # DDP: each process's copy on its own GPU; FSDP places the shards itself.
    device_map = {"": distributed.local_rank()} if hardware.device == "cuda" and not fsdp else None
    model = AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=hardware.dtype, quantization_config=quantization_config, device_map=device_map)
    layout = style_tokens.prepare_embedding(model, tokenizer, settings.style_markers)
    return model, layout


def lora_config(settings: TrainingParams, layout: dict) -> Any:
    from peft import LoraConfig

    trainable = list(layout["token_ids"].values())
    return LoraConfig(
        r=settings.lora.r, lora_alpha=settings.lora.alpha, lora_dropout=settings.lora.dropout,
        target_modules=settings.lora.target_modules, task_type="CAUSAL_LM",
        # Only the style tokens' rows train, never the whole embedding (DESIGN.md decision 4).
        trainable_token_indices={"embed_tokens": trainable} if trainable else None)


def tokenize(row: dict[str, Any], tokenizer: Any) -> dict[str, list[int]]:
    """One conversation in the model's own template, with loss on the assistant's answer and its
    end-of-turn token only. TRL's prompt-completion path would also train on what the template prints
    after the end-of-turn (ChatML's newline); the sequence ends at the end-of-turn here instead."""
    kwargs = {"tokenize": False, "enable_thinking": False}
    prompt = tokenizer.apply_chat_template(chat.messages(row, with_answer=False), add_generation_prompt=True, **kwargs)
    full = tokenizer.apply_chat_template(chat.messages(row), **kwargs)
    if not full.startswith(prompt):
        raise PipelineError("the chat template renders the prompt differently once the answer is added; "
                            f"cannot mask the loss.\nprompt: {prompt[-200:]!r}\nfull: {full[:len(prompt) + 50]!r}")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise PipelineError(f"tokens merge across the prompt/answer boundary of the chat template: {prompt[-80:]!r}")
    completion = full_ids[len(prompt_ids):]
    end_of_turn = tokenizer.eos_token_id
    if end_of_turn not in completion:
        raise PipelineError(f"the chat template does not end the assistant turn with eos {tokenizer.eos_token!r}")
    completion = completion[: completion.index(end_of_turn) + 1]
    return {"input_ids": prompt_ids + completion, "completion_mask": [0] * len(prompt_ids) + [1] * len(completion)}


def paired_order(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Rows that share a prompt (its TERSE and VERBOSE answers) next to each other, prompts in seeded
    random order. Trained in this order, both answers land in one optimizer step and their difference in
    the loss comes from the style token alone: the model learns to condition on it in few steps."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(normalise(prompt_text(row)), []).append(row)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    return [row for key in keys for row in sorted(groups[key], key=lambda r: r["style"])]


def dataset(rows: list[dict[str, Any]], tokenizer: Any, max_length: int, where: str) -> Any:
    from datasets import Dataset

    examples = [tokenize(row, tokenizer) for row in rows]
    too_long = [index for index, example in enumerate(examples) if len(example["input_ids"]) > max_length]
    if too_long:
        # validate refuses such rows; reaching this means the tokenizer changed after validation.
        raise PipelineError(f"{len(too_long)} rows of {where} exceed max_length {max_length} tokens "
                            f"(first at line {too_long[0] + 1}); rerun validate or raise max_length")
    return Dataset.from_list(examples)


def check_context(base_dir: Path, max_length: int, key: str) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(base_dir)
    context = getattr(config, "max_position_embeddings", None)
    if context is not None and max_length > context:
        raise PipelineError(f"{key}.max_length {max_length} exceeds the base model's context of {context} tokens")


def sft_config(stage: TrainParams, settings: TrainingParams, hardware: Hardware, output_dir: Path,
               key: str) -> Any:
    from trl import SFTConfig

    batch_size, accumulation = distributed.per_process_batch(stage, settings.distributed, key)
    return SFTConfig(
        output_dir=str(output_dir), seed=settings.seed, data_seed=settings.seed,
        per_device_train_batch_size=batch_size, gradient_accumulation_steps=accumulation,
        # every trainable parameter is used in every step: DDP need not search the graph for unused ones
        ddp_find_unused_parameters=False,
        learning_rate=stage.learning_rate, lr_scheduler_type=stage.lr_scheduler, warmup_steps=stage.warmup_ratio,
        num_train_epochs=stage.epochs, max_steps=stage.max_steps, max_length=stage.max_length,
        packing=False, completion_only_loss=True,
        bf16=hardware.precision == "bf16", fp16=hardware.precision == "fp16", use_cpu=hardware.device == "cpu",
        gradient_checkpointing=settings.gradient_checkpointing, activation_offloading=hardware.offload_activations,
        save_strategy="steps", save_steps=stage.save_steps, save_total_limit=2,
        logging_steps=stage.logging_steps, include_num_input_tokens_seen="non_padding",
        # The NaN filter reads the loss back every step, stalling the GPU. Without it a NaN loss makes the logged
        # losses and final_loss NaN: a diverged run shows instead of being averaged over.
        logging_nan_inf_filter=False,
        eval_strategy="no", per_device_eval_batch_size=batch_size,
        train_sampling_strategy="sequential" if settings.paired_styles else "random",
        report_to="none", dataloader_pin_memory=hardware.device == "cuda", disable_tqdm=True)


def curves_callback(live_dir: Path, resume_step: int | None) -> Any:
    """transformers' DVCLiveCallback with the curves indexed by optimizer step. On resume, points logged
    after the checkpoint (the run went on past it before dying) are cut, since they are logged again."""
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    if resume_step is None and live_dir.exists():
        shutil.rmtree(live_dir)  # curves of an abandoned run
    for curve in live_dir.glob("plots/metrics/**/*.tsv") if resume_step is not None else []:
        header, *points = curve.read_text().splitlines()
        kept = [point for point in points if int(point.split("\t")[0]) <= resume_step]
        curve.write_text("\n".join([header, *kept]) + "\n")

    class StepAlignedDVCLiveCallback(DVCLiveCallback):
        def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.live.step = state.global_step
            super().on_log(args, state, control, **kwargs)

    live = Live(dir=str(live_dir), resume=resume_step is not None, save_dvc_exp=False, dvcyaml=None, report=None)
    return StepAlignedDVCLiveCallback(live=live)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def last_checkpoint(checkpoint_dir: Path, fingerprint: dict[str, Any]) -> str | None:
    """The checkpoint to resume from, or None. Checkpoints of other inputs or params are removed,
    never resumed: they would silently mix two runs."""
    stamp = checkpoint_dir / "fingerprint.json"
    expected = json.dumps(fingerprint, sort_keys=True, indent=1)
    if checkpoint_dir.exists() and (not stamp.exists() or stamp.read_text() != expected):
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(expected)
    return latest_checkpoint(checkpoint_dir)


def latest_checkpoint(checkpoint_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.exists() else None


def peak_memory_gib(hardware: Hardware) -> float:
    if hardware.device == "cuda":
        return round(torch.cuda.max_memory_reserved() / 2**30, 3)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB on Linux


def out_of_memory_advice(stage: str, checkpoint: str | None) -> str:
    kept = f"The last checkpoint is kept in {checkpoint}; a rerun resumes from it." if checkpoint else ""
    return (f"{stage} ran out of GPU memory. Lower {stage}.max_length or {stage}.batch_size (raise "
            f"{stage}.gradient_accumulation_steps to keep the effective batch), set train.gradient_checkpointing: "
            f"true, train.activation_offloading: cpu, or train.quantization: nf4. {kept}")
