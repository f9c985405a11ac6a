"""What the two training stages share: the hardware choice, the base model with its style-token layout,
the tokenised examples with their loss mask, and the TRL trainer (DESIGN.md decisions 2-6)."""

import hashlib
import json
import random
import shutil
from dataclasses import dataclass
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
    # Both measured on one GPU (benchmarks/train_throughput.py); several processes keep the eager path that
    # benchmarks/multi_gpu.py measured.
    processes = settings.distributed.processes
    one_gpu = cuda and processes == 1
    compile_layers = settings.compile == "layers" or (settings.compile == "auto" and one_gpu)
    offload = settings.activation_offloading == "cpu" or (
        settings.activation_offloading == "auto" and one_gpu and settings.gradient_checkpointing)
    if offload and not cuda:
        raise PipelineError("train.activation_offloading: cpu needs a CUDA GPU (allowed on CPU: auto, none)")
    for key, chosen in (("compile", settings.compile == "layers"), ("activation_offloading", offload)):
        if chosen and processes > 1:
            raise PipelineError(f"train.{key}: {getattr(settings, key)} is measured on one GPU only; with "
                                f"train.distributed.processes {processes} (allowed: auto, none)")
    return Hardware("cuda" if cuda else "cpu", quantization, precision, compile_layers, offload)


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


def compile_trainer(trainer: Any) -> None:
    """`compile_layers` on the trainer's model, and its activation offloading, if on, without TRL's per-step
    synchronisations, which the compiled nf4 layers make needless (stages/offloading.py)."""
    from stages import offloading

    compile_layers(trainer.model)
    offloading.drop_step_syncs(getattr(trainer, "maybe_activation_offload_context", None))


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


def trainer_class(style_rows_lr_multiplier: float = 1.0) -> type:
    """TRL's SFTTrainer with two narrow fixes, both no-ops where they are not needed, and the style rows in
    their own optimizer group: two embedding rows learn slowly at a LoRA learning rate (textual inversion
    trains embeddings at a higher rate for the same reason)."""
    from transformers import Trainer
    from trl import SFTTrainer
    from trl.trainer import utils as trl_utils

    from stages.style_rows import use_style_rows

    class StyleTokenSFTTrainer(SFTTrainer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._parameter_count: int | None = None
            self._trainable_parameters: list[torch.nn.Parameter] | None = None
            self._pending_token_count: torch.Tensor | None = None
            use_style_rows(self.model)  # the style rows embedded without a copy of the whole embedding
            # Tied embeddings: PEFT wraps lm_head in a TrainableTokensWrapper that forwards `weight` (the
            # merged rows) but not `bias`, which TRL's fused LM head reads (DESIGN.md decision 4).
            head = self.model.get_output_embeddings()
            if hasattr(head, "token_adapter") and "bias" not in vars(head):
                head.bias = head.token_adapter.base_layer.bias

        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            # TRL 1.15's fused LM head runs a Triton kernel, which CPU-only torch lacks: use the model's
            # own cross-entropy there. On CUDA, TRL's path as is.
            if trl_utils._ChunkedLogProbFunction is None:
                return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

        # Two per-step costs of transformers' loop that walk the whole PEFT model (about 3,400 modules and 1,000
        # parameters for Qwen3-14B), tens of milliseconds of CPU in which the GPU waited
        # (benchmarks/train_throughput.py --profile). Both are computed once; the values are the same.
        def floating_point_ops(self, inputs: dict[str, Any]) -> int:
            if self._parameter_count is None:
                self._parameter_count = self.model.num_parameters(exclude_embeddings=True)
            main_input = getattr(self.model, "main_input_name", "input_ids")
            return 6 * inputs[main_input].numel() * self._parameter_count if main_input in inputs else 0

        def _clip_grad_norm(self, model: Any) -> Any:
            if self.is_fsdp_enabled or self.is_deepspeed_enabled:  # they clip their own shards
                return super()._clip_grad_norm(model)
            if self._trainable_parameters is None:  # frozen parameters have no gradient to clip
                self._trainable_parameters = [p for p in model.parameters() if p.requires_grad]
            return self.accelerator.clip_grad_norm_(self._trainable_parameters, self.args.max_grad_norm)

        def _track_num_input_tokens(self, inputs: dict[str, Any]) -> None:
            # transformers reads each step's token count back (`.item()`): the CPU waits there for the backward
            # pass, then the GPU idles while the CPU clips and launches the optimizer step. The same count is
            # summed on the device and read where transformers writes it out: logs and checkpoints.
            mode = self.args.include_num_input_tokens_seen
            ids = inputs.get(getattr(self.model, "main_input_name", "input_ids"))
            if mode == "no" or ids is None:
                return super()._track_num_input_tokens(inputs)
            pad = getattr(self.processing_class, "pad_token_id", None)
            if mode == "non_padding" and "attention_mask" in inputs:
                count = inputs["attention_mask"].sum()
            elif mode == "non_padding" and pad is not None:  # padding-free rows carry no mask
                count = (ids != pad).sum()
            else:  # every token, as transformers counts them; made on the device, not copied there (a copy waits)
                count = torch.full((), ids.numel(), device=self.args.device)
            count = self.accelerator.gather(count.to(self.args.device, torch.int64)).sum()
            pending = self._pending_token_count
            self._pending_token_count = count if pending is None else pending + count

        def _flush_token_count(self) -> None:
            if self._pending_token_count is not None:
                self.state.num_input_tokens_seen += int(self._pending_token_count)
                self._pending_token_count = None

        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            self._flush_token_count()
            super().log(logs, start_time)

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            self._flush_token_count()
            super()._save_checkpoint(model, trial)

        def create_optimizer(self, model: Any = None) -> Any:
            optimizer = super().create_optimizer(model)
            style_rows = [parameter for name, parameter in self.model.named_parameters()
                          if "trainable_tokens" in name and parameter.requires_grad]
            already = any(group.get("style_rows") for group in optimizer.param_groups)
            if style_rows and style_rows_lr_multiplier != 1.0 and not already:
                moved = {id(p) for p in style_rows}
                for group in optimizer.param_groups:
                    group["params"] = [p for p in group["params"] if id(p) not in moved]
                # Before the scheduler exists, so it scales this group's rate like the others.
                optimizer.add_param_group({"params": style_rows, "weight_decay": 0.0, "style_rows": True,
                                           "lr": self.args.learning_rate * style_rows_lr_multiplier})
            return optimizer

    return StyleTokenSFTTrainer


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
