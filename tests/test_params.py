from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stages import PipelineError, params
from stages.cli import app
from tests.conftest import REPO


def _shipped() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_shipped_params_are_valid() -> None:
    loaded = params.load(REPO / "params.yaml")
    assert loaded.validate_.sources["iac"].default_style == "VERBOSE"
    assert loaded.train(loaded.validate_.sources["verbosity"].max_length_of).max_length > 0


@pytest.mark.parametrize(("dotted", "value", "message"), [
    ("validate.max_rejct_rate", 0.1, "validate.max_rejct_rate: unknown key (allowed here: max_reject_rate, sources)"),
    ("split.seed", "forty-two", "split.seed: Input should be a valid integer"),
    ("validate.sources.iac.default_style", "LOUD", "validate.sources.iac.default_style: Input should be 'TERSE' "
                                                   "or 'VERBOSE'"),
    ("validate.sources.iac.colour", "red", "validate.sources.iac.colour: unknown key (allowed here: path, "
                                           "default_style, max_length_of"),
    ("model.dtype", "fp8", "model.dtype: Input should be 'bfloat16', 'float16' or 'float32'"),
    ("split.replay_fraction", 1.5, "split.replay_fraction: Input should be less than 1"),
    ("trainer", {"lr": 1}, "trainer: unknown key (allowed here: model, validate, split, train, train_stage1, "
                           "train_stage2, merge, quantize, parity, eval, serve, bench)"),
    ("merge.base", "fp8", "merge.base: Input should be 'original' or 'nf4_roundtrip'"),
    ("quantize.scheme", "W8A8", "quantize.scheme: Input should be 'W4A16' or 'W4A16_ASYM'"),
    ("parity.min_first_tokens_agreement", 1.5, "parity.min_first_tokens_agreement: Input should be less than or "),
    ("train.quantization", "int8", "train.quantization: Input should be 'auto', 'nf4' or 'none'"),
    ("train_stage2.lr_scheduler", "step", "train_stage2.lr_scheduler: Input should be 'cosine', 'linear', "),
])
def test_bad_key_or_value_is_refused_naming_the_key(dotted: str, value: object, message: str) -> None:
    raw = _shipped()
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[leaf] = value
    with pytest.raises(PipelineError) as error:
        params.parse(raw)
    assert message in str(error.value)


def test_missing_section_is_named() -> None:
    raw = _shipped()
    del raw["split"]
    with pytest.raises(PipelineError, match="split: required key is missing"):
        params.parse(raw)


def test_cli_refuses_bad_params_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _shipped()
    raw["model"]["bsae"] = raw["model"].pop("base")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["base_model"])

    assert result.exit_code == 1
    assert "model.bsae: unknown key (allowed here: base, revision, dtype)" in result.output
    assert "model.base: required key is missing" in result.output
    assert list(tmp_path.iterdir()) == [tmp_path / "params.yaml"]  # nothing was written


def test_every_stage_has_help_saying_what_it_reads_and_writes() -> None:
    for command in ("base_model", "validate", "split"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Reads:" in result.output and "Writes:" in result.output
