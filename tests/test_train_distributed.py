"""Training in several processes (train.distributed): the `accelerate launch` command line, the batch each
process runs, and a real two-process run on the CPU (gloo) through `qwen-iac train`: the same loss curve
and adapter as one process at the same global batch, one writer, and a resume after a kill."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from stages import PipelineError, distributed, params, train
from stages.params import DistributedParams, TrainParams
from tests.conftest import REPO
from tests.test_train import KILL_AT
from tests.tiny_models import STEPS, VENV_PATH, write_project

STAGE = TrainParams(max_length=2048, learning_rate=2e-4, lr_scheduler="cosine", warmup_ratio=0.03, batch_size=1,
                    gradient_accumulation_steps=16, epochs=1, max_steps=-1, save_steps=50, logging_steps=5,
                    eval_examples=0)


def test_the_launch_command_runs_the_same_stage_once_per_process() -> None:
    ddp = distributed.launch_command(DistributedParams(processes=2), "train_stage2", Path("params.yaml"), "bf16",
                                     gpus=True)
    assert ddp == [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
                   "--mixed_precision", "bf16", "--dynamo_backend", "no", "--multi_gpu",
                   "-m", "stages.cli", "train", "train_stage2", "--params", "params.yaml"]
    fsdp = distributed.launch_command(DistributedParams(processes=4, strategy="fsdp"), "train_stage1",
                                      Path("p.yaml"), "bf16", gpus=True)
    flags = fsdp[fsdp.index("--use_fsdp") + 1:fsdp.index("-m", 3)]
    settings = dict(zip(flags[::2], flags[1::2], strict=True))
    assert "--multi_gpu" not in fsdp and settings["--fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    # the style rows' delta shares FSDP's root unit with the frozen embedding: mixed requires_grad
    assert settings["--fsdp_use_orig_params"] == "true" and settings["--fsdp_cpu_ram_efficient_loading"] == "true"
    cpu = distributed.launch_command(DistributedParams(processes=2), "train_stage1", Path("p.yaml"), "fp32", gpus=False)
    assert cpu[cpu.index("--mixed_precision") + 1] == "no"


def test_the_global_batch_is_kept_unless_the_profile_scales_it() -> None:
    def shared(batch: int, accumulation: int, processes: int, global_batch: str = "keep") -> tuple[int, int]:
        stage = STAGE.model_copy(update={"batch_size": batch, "gradient_accumulation_steps": accumulation})
        settings = DistributedParams(processes=processes, global_batch=global_batch)
        return distributed.per_process_batch(stage, settings, "train_stage1")

    assert shared(1, 16, 1) == (1, 16)
    assert shared(1, 16, 2) == (1, 8)  # the accumulation is shared out first: the same memory per GPU
    assert shared(4, 4, 4) == (4, 1)
    assert shared(4, 4, 2) == (4, 2)  # the batch a GPU held alone, the accumulation shared out
    assert shared(2, 1, 2) == (1, 1)
    assert shared(2, 2, 4) == (1, 1)
    assert shared(1, 16, 2, "scale") == (1, 16)
    with pytest.raises(PipelineError) as error:
        shared(1, 3, 2)
    assert "train_stage1" in str(error.value) and "train.distributed.global_batch" in str(error.value)
    assert "allowed: keep, scale" in str(error.value)


def test_what_cannot_run_here_is_refused_with_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PipelineError, match=r"train\.distributed\.processes: 4 .* has 2 \(allowed: 1 to 2\)"):
        distributed.check(DistributedParams(processes=4), "nf4", gpus=2)
    with pytest.raises(PipelineError, match=r"train\.distributed\.strategy: fsdp needs CUDA GPUs"):
        distributed.check(DistributedParams(processes=2, strategy="fsdp"), "auto", gpus=0)
    with pytest.raises(PipelineError, match=r"train\.distributed\.strategy: fsdp .* train\.quantization nf4"):
        distributed.check(DistributedParams(processes=2, strategy="fsdp"), "none", gpus=2)
    distributed.check(DistributedParams(processes=2), "none", gpus=0)  # gloo on the CPU: what the test below runs
    monkeypatch.setenv("WORLD_SIZE", "4")  # a launcher started 4 where the params say 2
    with pytest.raises(PipelineError, match=r"train\.distributed\.processes is 2 but 4 processes were launched"):
        distributed.check_launched(DistributedParams(processes=2))
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["train"]["distributed"] = {"processes": 2, "strategy": "zero3"}
    with pytest.raises(PipelineError) as error:
        params.parse(raw, "params.yaml")
    assert "train.distributed.strategy" in str(error.value) and "ddp" in str(error.value), error.value


def _curve(root: Path) -> list[tuple[str, float]]:
    lines = (root / "reports/curves/train_stage1/plots/metrics/loss.tsv").read_text().splitlines()[1:]
    return [(step, float(loss)) for step, loss in (line.split("\t") for line in lines)]


def test_two_processes_match_one_write_once_and_resume_after_a_kill(tmp_path: Path, tiny_model_dir: Path) -> None:
    # LoRA dropout 0: each process draws its own masks, which would make the curves differ by the masks alone.
    # Gradient checkpointing on, as the GPU profiles train: DDP must see each gradient once through it.
    overrides = {"train.lora.dropout": 0.0, "train.gradient_checkpointing": True}
    one = write_project(tmp_path / "one", tiny_model_dir, **overrides)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(one)
        train.run(params.load(), "train_stage1")

    two = write_project(tmp_path / "two", tiny_model_dir, **overrides, **{"train.distributed": {"processes": 2}})
    env = {**os.environ, "PATH": VENV_PATH, "PYTHONPATH": str(REPO)}
    (two / "kill.py").write_text(KILL_AT)
    settings = DistributedParams(processes=2)
    launch = distributed.launch_command(settings, "train_stage1", Path("params.yaml"), "fp32", gpus=False)
    killed = subprocess.run([*distributed.launcher(settings, "fp32", gpus=False), "kill.py"], cwd=two, env=env,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode != 0, killed.stderr[-2000:]
    assert sorted(p.name for p in (two / "checkpoints/train_stage1").glob("checkpoint-*")) == ["checkpoint-2"]

    shown = subprocess.run(["qwen-iac", "train", "train_stage1", "--print-command"], cwd=two, env=env,
                           capture_output=True, text=True, check=True)
    # the same command, from the console script's own interpreter
    assert shlex.split(shown.stdout)[1:] == launch[1:] and Path(shlex.split(shown.stdout)[0]).parent == Path(
        sys.executable).parent
    resumed = subprocess.run(["qwen-iac", "train", "train_stage1"], cwd=two, env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "accelerate.commands.launch --num_processes 2" in resumed.stderr

    metrics = json.loads((two / "metrics/train_stage1.json").read_text())
    assert metrics["processes"] == 2 and metrics["global_batch"] == 2 and metrics["steps"] == STEPS["train_stage1"]
    assert metrics["resumed_from"].endswith("checkpoint-2")
    assert not (two / "checkpoints/train_stage1").exists()
    # one writer: every step once on the curve, and it is one process's curve
    assert [step for step, _ in _curve(two)] == ["1", "2", "3", "4"]
    for (_, expected), (_, loss) in zip(_curve(one), _curve(two), strict=True):
        assert loss == pytest.approx(expected, rel=1e-5)
    expected_adapter = load_file(one / "models/stage1_adapter/adapter_model.safetensors")
    for key, value in load_file(two / "models/stage1_adapter/adapter_model.safetensors").items():
        torch.testing.assert_close(value, expected_adapter[key], rtol=1e-4, atol=1e-5, msg=key)
