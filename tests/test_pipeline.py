"""The main job as a user runs it: `dvc repro` in a git repository, twice."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.tiny_models import VENV_PATH, write_pipeline_repo


def _dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": VENV_PATH}
    return subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)


def _quick(params: dict) -> None:
    # The real model through both training stages, a few rows each: the CPU-time figure is in the README.
    params["train_stage1"].update(max_steps=2, gradient_accumulation_steps=2, save_steps=1, eval_examples=1)
    params["train_stage2"].update(max_steps=1, gradient_accumulation_steps=1, save_steps=1, eval_examples=1)
    params["quantize"].update(calibration_samples=2, max_seq_length=64, grid_points=4)  # AWQ's search: the slow part
    # Two training steps leave the adapter near the base: the gates are open here (tests/test_eval.py and
    # tests/test_merge_quantize.py test them); the full evaluation is the main job's.
    params["parity"].update(first_tokens=4, max_perplexity_increase=10.0, min_first_tokens_agreement=0.0,
                            max_style_ratio_drop=1.0)
    params["eval"]["verbosity"].update(max_new_tokens=8, min_ratio=0.01)
    params["eval"]["iac"].update(prompts=2, max_new_tokens=8)
    # Parity scores every held-out reference under both models, compute-bound on a CPU (2 min for 25 prompts).
    params["split"]["verbosity_eval_prompts"] = 5
    params["bench"].update(requests=2, concurrency=2)
    params["bench"]["prompt_sets"]["short"]["max_tokens"] = 8
    params["bench"]["prompt_sets"]["long"]["max_tokens"] = 24
    params["bench"]["style"].update(prompts=2, max_tokens=8)


@pytest.mark.slow
def test_dvc_repro_runs_offline_and_a_second_run_does_nothing(tmp_path: Path,
                                                             embedded_base: tuple[Path, dict]) -> None:
    repo = write_pipeline_repo(tmp_path / "repo", embedded_base[0], _quick)  # the converted GGUF: saves a minute
    first = _dvc(repo, "repro")
    assert first.returncode == 0, first.stdout + first.stderr
    for stage in ("base_model", "validate@verbosity", "validate@iac", "split", "train_stage1", "train_stage2",
                  "merge", "quantize", "generate@base", "generate@merged", "generate@awq", "eval_verbosity@base",
                  "eval_verbosity@awq", "eval_iac@merged", "eval_public", "parity", "report"):
        assert f"Running stage '{stage}'" in first.stdout

    second = _dvc(repo, "repro")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date." in second.stdout

    split = json.loads((repo / "metrics/split.json").read_text())
    assert split["leakage"]["passed"] and split["counts"]["verbosity_eval"] == 5
    for source in ("verbosity", "iac"):
        assert json.loads((repo / f"metrics/data_{source}.json").read_text())["rows_rejected"] == 0
    assert (repo / "dvc.lock").exists()
    stage2 = json.loads((repo / "metrics/train_stage2.json").read_text())
    assert stage2["steps"] == 1 and stage2["style_tokens"]["rows_after"] == 49216
    assert (repo / "models/complete_adapter/adapter_model.safetensors").exists()
    assert not (repo / "checkpoints/train_stage1").exists()
    awq = json.loads((repo / "models/awq/config.json").read_text())["quantization_config"]
    assert awq["format"] == "pack-quantized" and awq["config_groups"]["group_0"]["weights"]["group_size"] == 32
    assert json.loads((repo / "metrics/parity.json").read_text())["prompts"] == 2 * 5 + 2
    for model in ("base", "merged", "awq"):  # base vs fine-tuned, side by side
        assert json.loads((repo / f"metrics/verbosity_{model}.json").read_text())["prompts"] == 5
        assert json.loads((repo / f"metrics/iac_{model}.json").read_text())["samples"] == 2
    shown = _dvc(repo, "metrics", "show", "--json")
    assert "metrics/verbosity_base.json" in shown.stdout and "metrics/iac_awq.json" in shown.stdout
    assert "## Evaluation" in (repo / "reports/TRAINING_LOG.md").read_text()

    # Serving, off the main job: the latency stage starts transformers serve on the embedded merged model,
    # benchmarks it through the API and stops it.
    assert "latency" not in first.stdout
    served = _dvc(repo, "repro", "deploy/dvc.yaml")
    assert served.returncode == 0, served.stdout + served.stderr
    latency = json.loads((repo / "deploy/latency.json").read_text())
    assert latency["complete"] and latency["engine"] == "transformers" and latency["model"] == "models/merged"
    for name, max_tokens in (("short", 8), ("long", 24)):
        measured = latency["sets"][name]
        assert (measured["completed"], measured["failed"]) == (2, 0) and measured["fixed_length"]
        assert measured["total_output_tokens"] == 2 * max_tokens
        for metric in ("ttft", "tpot", "itl", "e2el"):
            assert measured[f"mean_{metric}_ms"] > 0
            assert 0 < measured[f"p50_{metric}_ms"] <= measured[f"p90_{metric}_ms"]
    assert latency["style"]["prompts"] == 2 and latency["style"]["failed"] == 0
    assert "deploy/latency.json" in _dvc(repo, "metrics", "show", "--json").stdout
    assert "Running stage" not in _dvc(repo, "repro").stdout  # the main job is still up to date
