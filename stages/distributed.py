"""Several training processes on one host (train.distributed): the `accelerate launch` command line that
`qwen-iac train` becomes, what may run here, and the batch each process runs (process 0 alone writes: see
stages/train.py). DDP keeps a whole 4-bit copy of the base on every GPU and averages the LoRA gradients;
FSDP shards the base across the GPUs."""

import os
import sys
from pathlib import Path

import torch

from stages import PipelineError
from stages.params import DistributedParams, TrainParams

# FSDP over a 4-bit base: PEFT's recipe for QLoRA (its docs' fsdp_config_qlora.yaml), one unit per
# decoder layer, the base read once on rank 0 and broadcast; but with use_orig_params, because the
# style rows' trainable delta shares the root unit with the frozen embedding, and FSDP flattens tensors
# of mixed requires_grad only then ("Must flatten tensors with uniform requires_grad", seen on 2 H100s).
FSDP_FLAGS = ("--use_fsdp", "--fsdp_version", "1", "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
              "--fsdp_sharding_strategy", "FULL_SHARD", "--fsdp_backward_prefetch", "BACKWARD_PRE",
              "--fsdp_state_dict_type", "SHARDED_STATE_DICT", "--fsdp_cpu_ram_efficient_loading", "true",
              "--fsdp_sync_module_states", "true", "--fsdp_use_orig_params", "true",
              "--fsdp_offload_params", "false", "--fsdp_forward_prefetch", "false")


def world_size() -> int:
    """How many processes a launcher (accelerate, torchrun) started; 1 without one."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def use_one_gpu() -> None:
    """One process trains on one GPU. With several visible, Trainer would wrap the model in nn.DataParallel,
    which TRL refuses: this process sees the first only (CUDA reads the variable when it starts)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = "0" if visible is None else visible.split(",")[0]


def check_launched(settings: DistributedParams) -> None:
    """Under a launcher the process count is the launcher's: the batch is shared out by the params' count."""
    if world_size() > 1 and world_size() != settings.processes:
        raise PipelineError(f"train.distributed.processes is {settings.processes} but {world_size()} processes were "
                            f"launched: set it to {world_size()}, or run `qwen-iac train` without a launcher")


def check(settings: DistributedParams, quantization: str, gpus: int | None = None) -> None:
    """Refuse what cannot run here before anything starts, naming the key and what is allowed."""
    gpus = torch.cuda.device_count() if gpus is None else gpus
    if gpus and settings.processes > gpus:
        raise PipelineError(f"train.distributed.processes: {settings.processes} needs as many GPUs; this host has "
                            f"{gpus} (allowed: 1 to {gpus})")
    if not gpus and settings.strategy == "fsdp":
        raise PipelineError("train.distributed.strategy: fsdp needs CUDA GPUs (allowed without one: ddp)")
    if settings.strategy == "fsdp" and quantization == "none":
        # measured with nf4 only; TRL casts a new adapter to the compute dtype for quantized bases only
        raise PipelineError("train.distributed.strategy: fsdp is built for train.quantization nf4 (allowed with "
                            "quantization none: ddp)")


def launcher(settings: DistributedParams, precision: str, gpus: bool) -> list[str]:
    """`accelerate launch` with its options, before the program it starts. Without GPUs the processes talk
    over gloo (what the CPU tests run); accelerate's --multi_gpu launcher is torchrun either way."""
    mixed = {"bf16": "bf16", "fp16": "fp16"}.get(precision, "no") if gpus else "no"
    strategy = FSDP_FLAGS if settings.strategy == "fsdp" else ("--multi_gpu",) if settings.processes > 1 else ()
    return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(settings.processes),
            "--num_machines", "1", "--mixed_precision", mixed, "--dynamo_backend", "no", *strategy]


def launch_command(settings: DistributedParams, stage: str, params_file: Path, precision: str,
                   gpus: bool) -> list[str]:
    """`qwen-iac train STAGE` once per process."""
    return [*launcher(settings, precision, gpus), "-m", "stages.cli", "train", stage, "--params", str(params_file)]


def per_process_batch(stage: TrainParams, settings: DistributedParams, key: str) -> tuple[int, int]:
    """(batch_size, gradient_accumulation_steps) for each process. `keep` holds batch_size x
    gradient_accumulation_steps x processes at the single-process value, with the largest batch per process
    up to batch_size (the same memory per GPU as on one), the accumulation making up the rest."""
    processes = settings.processes
    if processes == 1 or settings.global_batch == "scale":
        return stage.batch_size, stage.gradient_accumulation_steps
    total = stage.batch_size * stage.gradient_accumulation_steps
    if total % processes == 0:
        share = total // processes
        batch = max(size for size in range(1, stage.batch_size + 1) if share % size == 0)
        return batch, share // batch
    raise PipelineError(
        f"{key}: batch_size {stage.batch_size} x gradient_accumulation_steps {stage.gradient_accumulation_steps} "
        f"cannot be shared out over train.distributed.processes {processes} (make gradient_accumulation_steps "
        f"a multiple of {processes}, or set train.distributed.global_batch: scale; allowed: keep, scale)")
