import shutil
from pathlib import Path

import pytest

from stages import PipelineError, params, profiles
from tests.conftest import REPO


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copyfile(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    return tmp_path


def test_profile_merges_into_params_and_keeps_comments(workdir: Path) -> None:
    keys = profiles.apply("qwen3-14b", workdir / "params.yaml", workdir / "profiles")
    assert "model.base" in keys and "train_stage2.max_length" in keys
    merged = params.load(workdir / "params.yaml")
    assert merged.model.base == "Qwen/Qwen3-14B" and merged.model.revision is None
    assert merged.train_stage2.max_length == 3072
    assert merged.split.seed == 42  # untouched sections stay
    text = (workdir / "params.yaml").read_text()
    assert "# share of the stage-2 training mix that is stage-1 data" in text


def test_a_profile_that_breaks_the_schema_writes_nothing(workdir: Path) -> None:
    (workdir / "profiles/broken.yaml").write_text("split:\n  seeed: 1\n")
    before = (workdir / "params.yaml").read_text()
    with pytest.raises(PipelineError, match=r"split\.seeed: unknown key"):
        profiles.apply("broken", workdir / "params.yaml", workdir / "profiles")
    assert (workdir / "params.yaml").read_text() == before


def test_unknown_profile_lists_the_available_ones(workdir: Path) -> None:
    with pytest.raises(PipelineError, match="available: a10g-24gb, gpu-80gb, gpus-2, qwen3-14b"):
        profiles.apply("qwen3-32b", workdir / "params.yaml", workdir / "profiles")


@pytest.mark.parametrize(("hardware", "sequences_per_step"), [("a10g-24gb", 1), ("gpu-80gb", 4)])
def test_qwen3_14b_hardware_profiles_give_the_seed_recipe(workdir: Path, hardware: str,
                                                          sequences_per_step: int) -> None:
    profiles.apply("qwen3-14b", workdir / "params.yaml", workdir / "profiles")
    profiles.apply(hardware, workdir / "params.yaml", workdir / "profiles")
    merged = params.load(workdir / "params.yaml")
    assert (merged.train_.quantization, merged.train_.precision, merged.train_.seed) == ("nf4", "bf16", 42)
    assert merged.train_.gradient_checkpointing and merged.train_.lora.r == 16 and merged.train_.lora.alpha == 32
    assert merged.train_.lora.dropout == 0.05 and merged.quantize.grid_points == 20
    for stage, learning_rate, max_length in (("train_stage1", 2e-4, 2048), ("train_stage2", 1.5e-4, 3072)):
        config = merged.train(stage)
        assert (config.learning_rate, config.max_length, config.lr_scheduler) == (learning_rate, max_length, "cosine")
        assert (config.warmup_ratio, config.epochs, config.max_steps) == (0.03, 1, -1)
        assert config.batch_size == sequences_per_step
        assert config.batch_size * config.gradient_accumulation_steps == 16  # the seed's effective batch


@pytest.mark.parametrize(("hardware", "per_gpu"), [("a10g-24gb", (1, 8)), ("gpu-80gb", (4, 2))])
def test_two_gpus_keep_the_global_batch_of_one(workdir: Path, hardware: str, per_gpu: tuple[int, int]) -> None:
    from stages import distributed

    for name in ("qwen3-14b", hardware, "gpus-2"):
        profiles.apply(name, workdir / "params.yaml", workdir / "profiles")
    merged = params.load(workdir / "params.yaml")
    settings = merged.train_.distributed
    assert (settings.processes, settings.strategy, settings.global_batch) == (2, "ddp", "keep")
    for stage in ("train_stage1", "train_stage2"):
        batch, accumulation = distributed.per_process_batch(merged.train(stage), settings, stage)
        assert (batch, accumulation) == per_gpu and batch * accumulation * settings.processes == 16
    launch = distributed.launch_command(settings, "train_stage1", Path("params.yaml"), "bf16", gpus=True)
    assert launch[launch.index("--num_processes") + 1] == "2" and "--multi_gpu" in launch
