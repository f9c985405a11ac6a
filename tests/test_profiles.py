import shutil
from pathlib import Path

import pytest
from conftest import REPO

from stages import PipelineError, params, profiles


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
    with pytest.raises(PipelineError, match="available: qwen3-14b"):
        profiles.apply("qwen3-32b", workdir / "params.yaml", workdir / "profiles")
