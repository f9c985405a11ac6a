"""Merge, AWQ quantization and parity on the tiny tied Llama: the merged model computes what base plus
adapter computes, for both merge bases; the NF4 round trip is exactly what QLoRA trains against; the AWQ
model loads and generates in a fresh process; parity passes identical models and fails a crossed threshold."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stages import PipelineError, merge, params, parity, quantize, training
from tests.conftest import REPO, merge_adapter
from tests.tiny_models import effective_embeddings

CONVERSATIONS = [{"instruction": "Create an S3 bucket with versioning.", "style": "TERSE", "output": "ok"},
                 {"instruction": "Why pin provider versions?", "style": "VERBOSE", "output": "ok"}]


@torch.no_grad()
def _logits(model: object, tokenizer: object) -> torch.Tensor:
    ids = [torch.tensor([training.tokenize(row, tokenizer)["input_ids"]]) for row in CONVERSATIONS]
    return torch.cat([model(input_ids=i).logits[0] for i in ids])


def _reference_logits(root: Path, nf4: bool) -> torch.Tensor:
    """Base plus adapter, unmerged, in fp32: what the merge has to reproduce."""
    from peft import PeftModel

    loaded = params.load(root / "params.yaml")
    adapter = root / "models" / "complete_adapter"
    tokenizer = training.load_tokenizer(adapter, "tokens")
    model, _ = training.load_base(root / "models" / "base", tokenizer, loaded.train_,
                                  training.Hardware("cpu", "none", "fp32"))
    if nf4:
        merge.nf4_roundtrip(model)
    return _logits(PeftModel.from_pretrained(model, adapter), tokenizer)


@pytest.mark.parametrize("base", ["original", "nf4_roundtrip"])
def test_merged_logits_match_base_plus_adapter(adapted: Path, base: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reference = _reference_logits(adapted, nf4=base == "nf4_roundtrip")
    for dtype, tolerance in (("float32", 1e-4), ("bfloat16", 0.05)):  # bf16: the rounding of the saved weights
        merged_dir = merge_adapter(adapted, f"merged_{base}_{dtype}", base=base, dtype=dtype)
        model = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(merged_dir)
        logits = _logits(model, tokenizer)
        assert (logits - reference).abs().max() < tolerance * reference.abs().max(), (base, dtype)
    original = _reference_logits(adapted, nf4=False)
    assert (base == "original") == torch.allclose(reference, original)  # the two bases really differ


def test_style_rows_survive_the_merge_and_the_files_load_as_a_plain_model(adapted: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    merged_dir = merge_adapter(adapted, "merged_rows", base="original", dtype="float32")
    trained_rows, _, layout = effective_embeddings(adapted, "models/complete_adapter")
    seed_rows, _, _ = effective_embeddings(adapted, None)
    model = AutoModelForCausalLM.from_pretrained(merged_dir)
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    for style, token_id in layout["token_ids"].items():
        assert tokenizer.convert_tokens_to_ids(f"<STYLE_{style}>") == token_id
        row = model.get_input_embeddings().weight[token_id]
        assert torch.equal(row, trained_rows[token_id]) and not torch.equal(row, seed_rows[token_id])
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert not list(merged_dir.glob("adapter_*")) and tokenizer.chat_template
    assert tokenizer.eos_token_id in GenerationConfig.from_pretrained(merged_dir).eos_token_id


def test_nf4_roundtrip_is_exactly_what_qlora_computes_with(tiny_model_dir: Path) -> None:
    import bitsandbytes.functional as bnb
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                bnb_4bit_compute_dtype=torch.bfloat16)
    qlora = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16, quantization_config=config)
    roundtripped = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.bfloat16)
    assert merge.nf4_roundtrip(roundtripped) == 14  # 2 layers x 7 projections; the tied head is not quantized
    quantized = {name: module for name, module in qlora.named_modules() if type(module).__name__ == "Linear4bit"}
    assert len(quantized) == 14
    for name, module in roundtripped.named_modules():
        if name in quantized:
            seen = bnb.dequantize_4bit(quantized[name].weight.data, quantized[name].weight.quant_state)
            assert torch.equal(module.weight, seen), name


def test_awq_model_is_compressed_tensors_and_generates_in_a_fresh_process(quantized: tuple[Path, Path]) -> None:
    awq_dir = quantized[1]
    config = json.loads((awq_dir / "config.json").read_text())["quantization_config"]
    assert config["quant_method"] == "compressed-tensors" and config["format"] == "pack-quantized"
    weights = config["config_groups"]["group_0"]["weights"]
    assert (weights["num_bits"], weights["symmetric"], weights["group_size"]) == (4, True, 32)
    assert config["ignore"] == ["lm_head"]
    metrics = json.loads((awq_dir.parent.parent / "metrics/quantize.json").read_text())
    assert metrics["calibration_samples"] == 8 and metrics["size_vs_merged"] < 1
    script = ("import sys; from stages import generation, chat; model, tok = generation.load_model(sys.argv[1]); "
              "rows = [{'instruction': 'Create an S3 bucket.', 'style': 'TERSE'}]; "
              "out = generation.generate(model, tok, [chat.messages(rows[0], with_answer=False)], 6); "
              "print(out[0]['tokens'], type(model.model.layers[0].self_attn.q_proj).__name__)")
    done = subprocess.run([sys.executable, "-c", script, str(awq_dir)], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2] == "6"  # six greedy tokens from the quantized model


def test_a_group_size_that_does_not_divide_the_layers_is_refused_before_calibration(adapted: Path,
                                                                                     quantized: tuple) -> None:
    loaded = params.load(adapted / "params.yaml")
    loaded = loaded.model_copy(update={"quantize": loaded.quantize.model_copy(update={"group_size": 48})})
    with pytest.raises(PipelineError, match=r"quantize\.group_size 48 .* \(allowed: 32\)"):
        quantize.run(loaded, quantized[0], adapted / "data/splits/stage2_train.jsonl", adapted / "awq_48")
    from llmcompressor.pipelines.cache import IntermediatesCache

    with quantize.cpu_without_pinned_memory():
        assert IntermediatesCache.pin_memory.__name__ == "<lambda>"
    assert IntermediatesCache.pin_memory.__name__ == "pin_memory"  # restored after calibration


def test_parity_passes_a_model_against_itself_at_the_strictest_thresholds(generated: Path, tmp_path: Path) -> None:
    root = tmp_path / "self"
    shutil.copytree(generated, root, symlinks=True)
    shutil.copyfile(root / "reports/generations/merged.jsonl", root / "reports/generations/awq.jsonl")
    loaded = params.load(root / "params.yaml")
    strict = loaded.parity.model_copy(update={"max_perplexity_increase": 0.0, "min_first_tokens_agreement": 1.0,
                                              "max_style_ratio_drop": 0.0})
    models = {**loaded.eval_.models, "awq": loaded.eval_.models["merged"]}
    metrics = parity.run(loaded.model_copy(update={"parity": strict, "eval_": loaded.eval_.model_copy(
        update={"models": models})}), root)
    assert metrics["prompts"] == 2 * 10 + 2  # 10 verbosity prompts in both styles, the 2 IaC held out in their own
    assert metrics["exact_match_rate"] == 1.0 and metrics["perplexity_increase"] == 0
    assert not metrics["thresholds_crossed"]


def test_parity_of_the_awq_model_fails_loudly_when_a_threshold_is_crossed(generated: Path) -> None:
    loaded = params.load(generated / "params.yaml")
    metrics_path, report_path = generated / "metrics/parity.json", generated / "reports/parity.jsonl"

    def judged(**thresholds: float) -> dict:
        settings = loaded.parity.model_copy(update={"max_perplexity_increase": 100.0, "min_first_tokens_agreement": 0.0,
                                                    "max_style_ratio_drop": 1.0, **thresholds})
        return parity.run(loaded.model_copy(update={"parity": settings}), generated)

    metrics = judged()
    assert metrics["perplexity"]["awq"] != metrics["perplexity"]["merged"]  # int4 really changed the weights
    # The same comparison, judged by a threshold on the wrong side of what was measured.
    if metrics["perplexity_increase"] > 0:
        crossing, key = {"max_perplexity_increase": 0.0}, "max_perplexity_increase"
    else:
        assert metrics["first_tokens_agreement"] < 1.0
        crossing, key = {"min_first_tokens_agreement": 1.0}, "min_first_tokens_agreement"
    with pytest.raises(PipelineError, match=rf"parity\.{key}"):
        judged(**crossing)
    assert json.loads(metrics_path.read_text())["thresholds_crossed"]  # written before failing
    assert len(report_path.read_text().splitlines()) == metrics["prompts"]


def test_parity_refuses_generations_of_different_prompts(generated: Path, tmp_path: Path) -> None:
    root = tmp_path / "mismatch"
    shutil.copytree(generated, root, symlinks=True)
    awq = root / "reports/generations/awq.jsonl"
    awq.write_text("".join(awq.read_text().splitlines(keepends=True)[1:]))  # one answer short
    with pytest.raises(PipelineError, match="different prompts"):
        parity.run(params.load(root / "params.yaml"), root)
