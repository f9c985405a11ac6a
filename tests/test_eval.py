"""Evaluation: extraction and scoring of generated IaC with the real validators (bad input included),
the verbosity measurements, and the eval stages end to end on the tiny model (generate, eval_verbosity,
eval_iac, eval_public, report)."""

import json
from pathlib import Path

import pytest

from stages import (
    PipelineError,
    eval_iac,
    eval_public,
    eval_verbosity,
    generate,
    generation,
    iac_scoring,
    params,
    report,
)
from stages.validators import terraform
from tests.conftest import edit_params
from tests.test_validators import CFN_GOOD, K8S_GOOD, K8S_UNKNOWN_FIELD, OPEN_SSH, TF_GOOD

needs_validate = pytest.mark.skipif(terraform.binary() is None or terraform.find_plugin_dir() is None,
                                    reason="terraform or its offline AWS provider mirror is not installed")


def _scored(**texts: str) -> dict[str, dict]:
    answers = [{"id": key, "text": text, "language": key.split("_")[0]} for key, text in texts.items()]
    return {r["id"]: r for r in iac_scoring.score(answers, None, "1.31.0")}


@needs_validate
def test_each_bad_answer_gets_a_precise_reason_and_nothing_crashes() -> None:
    records = _scored(
        terraform_good=f"Here you go:\n```hcl\n{TF_GOOD}```\nApply it with care.",
        terraform_prose="Terraform state maps resources in code to real objects.",
        terraform_truncated=f"```hcl\n{TF_GOOD[:-30]}",  # cut off by max_new_tokens: no closing fence
        kubernetes_truncated="```yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
        terraform_mixed=f"```yaml\n{K8S_GOOD}```\n\n```hcl\n{TF_GOOD}```\n```bash\nterraform apply\n```",
        cloudformation_wrong=f"```hcl\n{TF_GOOD}```",
        kubernetes_two=f"```yaml\n{K8S_GOOD}```\nand\n```yaml\n{K8S_GOOD.replace('name: settings', 'name: other')}```",
    )
    assert records["terraform_good"]["status"] == "pass"
    assert records["terraform_prose"]["status"] == "no_code"
    assert records["terraform_prose"]["reason"] == "no IaC code block or document in the answer"
    assert records["terraform_truncated"]["status"] == "fail" and not records["terraform_truncated"]["complete"]
    assert records["kubernetes_truncated"]["status"] == "fail"
    # Mixed languages: the language asked for is checked, the others are recorded.
    assert records["terraform_mixed"]["language"] == "terraform"
    assert records["terraform_mixed"]["languages_found"] == ["kubernetes", "terraform"]
    assert records["terraform_mixed"]["status"] == "pass"
    assert records["cloudformation_wrong"]["reason"] == "asked for cloudformation, the code is terraform"
    assert records["kubernetes_two"]["files"] == ["manifest.yaml", "manifest1.yaml"]


@needs_validate
def test_hostile_answers_are_scored_without_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = TF_GOOD + f'''
resource "null_resource" "run" {{
  provisioner "local-exec" {{
    command = "touch {marker}"
  }}
}}

data "external" "shell" {{
  program = ["sh", "-c", "touch {marker}; echo '{{}}'"]
}}
'''
    records = _scored(terraform_hostile=f"```hcl\n{hostile}```",
                      terraform_escape='```hcl\n# file: ../../escape.tf\nresource "x" "y" {}\n```')
    assert not marker.exists()
    checks = {c["tool"]: c for c in records["terraform_hostile"]["checks"]}
    assert checks["terraform validate"]["status"] == "skipped"  # null/external are not in the mirror: not fetched
    assert "not in the mirror" in checks["terraform validate"]["message"]
    assert not (tmp_path.parent / "escape.tf").exists()
    assert records["terraform_escape"]["files"] == ["main.tf"]  # the name left the sample: a default one is used


def test_a_skipped_tool_never_counts_as_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no terraform, tflint, helm or kubeconform on PATH
    monkeypatch.setenv("QWEN_IAC_CHECKOV", "/nonexistent/checkov")
    records = iac_scoring.score([{"id": "tf", "text": f"```hcl\n{TF_GOOD}```", "language": "terraform"},
                                 {"id": "cfn", "text": f"```yaml\n{CFN_GOOD}```", "language": "cloudformation"}],
                                None, "1.31.0")
    metrics = iac_scoring.summarize(records)
    assert metrics["terraform_validate_pass_rate"] is None and metrics["checkov_high_on_pass"] is None
    assert metrics["tools_skipped"]["terraform validate"] == "terraform not installed"
    assert metrics["by_tool"]["terraform validate"] == {"skipped": 1, "pass_rate": None}
    assert metrics["cfn_lint_error_free_rate"] == 1.0  # cfn-lint is a Python package: it always runs
    assert metrics["partially_checked"] == 1  # the Terraform sample: parsed, never validated


@needs_validate
def test_summary_reads_the_criteria_over_every_prompt_asked() -> None:
    records = iac_scoring.score([
        {"id": "a", "text": f"```hcl\n{TF_GOOD}```", "language": "terraform"},
        {"id": "b", "text": f"```hcl\n{TF_GOOD}{OPEN_SSH}```", "language": "terraform"},
        {"id": "c", "text": "No code, sorry.", "language": "terraform"},
        {"id": "d", "text": f"```yaml\n{K8S_UNKNOWN_FIELD}```", "language": "kubernetes"},
    ], None, "1.31.0")
    metrics = iac_scoring.summarize(records)
    assert metrics["terraform_validate_pass_rate"] == round(2 / 3, 4)  # the answer without code counts against it
    assert metrics["by_language"]["terraform"] == {"samples": 3, "passed": 2, "pass_rate": round(2 / 3, 4)}
    assert metrics["k8s_strict_pass_rate"] == 0.0 and metrics["no_code"] == 1
    if metrics["checkov_high_on_pass"] is not None:  # checkov's venv is built by `make setup`
        assert metrics["checkov_high_on_pass"] == 1  # the open SSH port passes validate, and checkov flags it


def _answers(terse: list[int], verbose: list[int]) -> list[dict]:
    return [{"id": f"p{i}", "style": style, "tokens": n, "stopped": n < 256, "text": "word " * n}
            for style, lengths in (("TERSE", terse), ("VERBOSE", verbose)) for i, n in enumerate(lengths)]


def test_verbosity_summary_histogram_and_table() -> None:
    answers = _answers([10, 20, 256, 30], [200, 100, 50, 250])
    summary = eval_verbosity.summarize(answers, terse_max_tokens=48, verbose_min_tokens=64)
    assert summary["TERSE"] == {"mean_tokens": 79.0, "median_tokens": 25.0, "stopped_share": 0.75,
                                "over_bound_share": 0.25}
    assert summary["VERBOSE"]["mean_tokens"] == 150.0 and summary["VERBOSE"]["under_bound_share"] == 0.25
    assert summary["ratio"] == round(150 / 79, 3) and summary["prompts"] == 4
    bins = eval_verbosity.histogram(answers, 256)
    assert sum(b["TERSE"] for b in bins) == 4 == sum(b["VERBOSE"] for b in bins)
    assert bins[-1] == {"tokens": 256, "TERSE": 1, "VERBOSE": 0}  # a runaway at the limit has its own bar
    table = eval_verbosity.per_prompt(answers)
    assert table[2]["terse_tokens"] == 256 and table[2]["ratio"] == round(50 / 256, 2)


def test_a_small_iac_selection_covers_every_language() -> None:
    rows = [{"id": f"{language}:{i}", "language": language} for language, count in
            (("terraform", 30), ("kubernetes", 10), ("helm", 3), ("pulumi", 2)) for i in range(count)]
    chosen = generate.iac_selection(rows, 6, seed=42)
    assert [r["language"] for r in chosen].count("terraform") == 2
    assert {r["language"] for r in chosen} == {"terraform", "kubernetes", "helm", "pulumi"}
    assert chosen == generate.iac_selection(rows, 6, seed=42) != generate.iac_selection(rows, 6, seed=7)
    assert generate.iac_selection(rows, 0, seed=42) == rows


def test_eval_stages_end_to_end_on_the_tiny_model(generated: Path) -> None:
    loaded = params.load(generated / "params.yaml")
    answers = [json.loads(line) for line in (generated / "reports/generations/merged.jsonl").read_text().splitlines()]
    assert [(a["set"], a["style"]) for a in answers[:2]] == [("verbosity", "TERSE"), ("verbosity", "VERBOSE")]
    assert all(0 < a["tokens"] <= 24 and len(a["token_ids"]) == a["tokens"] for a in answers)

    # A random-weight model cannot separate the styles 100-fold: the gate fails after writing everything.
    strict = loaded.eval_.model_copy(update={"verbosity": loaded.eval_.verbosity.model_copy(
        update={"min_ratio": 100.0})})
    with pytest.raises(PipelineError, match=r"ratio .* < eval\.verbosity\.min_ratio 100\.0"):
        eval_verbosity.run(loaded.model_copy(update={"eval_": strict}), "merged", generated)
    metrics = json.loads((generated / "metrics/verbosity_merged.json").read_text())
    assert metrics["prompts"] == 10 and metrics["gate"] == {"min_ratio": 100.0, "applies": True, "passed": False}
    assert (generated / "reports/verbosity/merged.csv").read_text().startswith("id,terse_tokens,terse_stopped")
    base = loaded.eval_.models["base"]
    assert not base.gate  # the base model is measured, never gated

    iac = eval_iac.run(loaded, "awq", generated)
    assert iac["samples"] == 2 and sum(iac["status_counts"].values()) == 2
    report_rows = (generated / "reports/iac/awq.jsonl").read_text().splitlines()
    assert all("answer" in json.loads(row) and json.loads(row)["reason"] is not None for row in report_rows)

    written = report.run(loaded, generated)
    text = written.read_text()
    for heading in ("## Base model", "## Environment", "## Training", "## Data", "## Evaluation", "## Serving"):
        assert heading in text
    assert "| `data/splits/iac_heldout.jsonl` | 2 |" in text  # the held-out file, its rows and its SHA256
    assert "| transformers |" in text and "| awq | 2 |" in text


def test_eval_public_records_why_it_skipped(generated: Path, tmp_path: Path) -> None:
    loaded = params.load(generated / "params.yaml")
    assert eval_public.run(loaded, generated) == {
        "skipped": "eval.public.path is null (set it to the folder holding the suites)"}
    edit_params(generated / "params.yaml", **{"eval.public.path": str(tmp_path / "nowhere")})
    metrics = eval_public.run(params.load(generated / "params.yaml"), generated)
    edit_params(generated / "params.yaml", **{"eval.public.path": None})
    assert set(metrics["suites"]) == set(loaded.eval_.public.suites)
    assert all("skipped" in suite for suite in metrics["suites"].values())


def test_bad_eval_params_name_the_key() -> None:
    from tests.conftest import REPO

    raw = params.yaml.safe_load((REPO / "params.yaml").read_text())
    raw["eval"]["models"] = {"Merged Model": {"path": "models/merged", "gate": True}}
    with pytest.raises(PipelineError, match=r"eval: .*'Merged Model' must be lower-case"):
        params.parse(raw)
    raw["eval"]["models"] = {"merged": {"path": "models/merged", "gate": True}}
    with pytest.raises(PipelineError, match=r"eval.models must define \['awq'\]"):
        params.parse(raw)


def test_eval_public_scores_every_suite_when_the_benchmarks_are_there(generated: Path) -> None:
    from tests.test_public_benchmarks import BENCHMARKS

    if not BENCHMARKS.is_dir():
        pytest.skip(f"the public benchmarks are not at {BENCHMARKS} (set QWEN_IAC_BENCHMARKS)")
    loaded = params.load(generated / "params.yaml")
    public = loaded.eval_.public.model_copy(update={"path": str(BENCHMARKS), "tasks_per_suite": 2,
                                                    "max_new_tokens": 8})
    metrics = eval_public.run(loaded.model_copy(update={"eval_": loaded.eval_.model_copy(
        update={"public": public})}), generated)
    assert metrics["leaks"] == 0
    assert {name: suite["samples"] for name, suite in metrics["suites"].items()} == dict.fromkeys(public.suites, 2)
    records = [json.loads(line) for line in (generated / "reports/public.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all(r["status"] in ("pass", "fail", "unchecked", "no_code") for r in records)


def test_shrinking_batches_and_grouped_attention_change_no_answer(generated: Path) -> None:
    from collections import defaultdict

    import torch
    from transformers import AutoModelForCausalLM

    from stages import chat
    from stages.rows import read_jsonl

    model, tokenizer = generation.load_model(generated / "models/merged")
    assert model.config._attn_implementation == generation.GROUPED_SDPA  # 4 query heads share 2 key/value heads
    rows = list(read_jsonl(generated / "data/splits/verbosity_eval.jsonl"))
    conversations = [c for style in chat.STYLE_TOKENS for c in generation.prompts(rows, style)]
    whole = generation.generate(model, tokenizer, conversations, 24, batch_size=64, chunk=1000)
    # Let a token the random model writes end a turn: the one whose first use is spread over the most
    # positions, so answers stop at many different lengths and the batch really shrinks.
    first_use: dict[int, set[int]] = defaultdict(set)
    for answer in whole:
        for position, token in enumerate(answer["token_ids"]):
            if position == answer["token_ids"].index(token):
                first_use[token].add(position)
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(max(first_use, key=lambda t: len(first_use[t])))
    whole = generation.generate(model, tokenizer, conversations, 24, batch_size=64, chunk=1000)
    shrinking = generation.generate(model, tokenizer, conversations, 24, batch_size=64, chunk=3)
    assert len({a["tokens"] for a in whole}) > 3 and any(a["stopped"] for a in whole)
    assert [a["token_ids"] for a in shrinking] == [a["token_ids"] for a in whole]

    reference = AutoModelForCausalLM.from_pretrained(generated / "models/merged", dtype=torch.float32,
                                                     attn_implementation="sdpa")
    tokenizer.padding_side = "left"
    batch = tokenizer.pad({"input_ids": generation.render(tokenizer, conversations)}, return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reference(**batch).logits)


def test_a_batch_whose_answers_all_end_in_one_chunk_stops_cleanly(generated: Path) -> None:
    from stages.rows import read_jsonl

    model, tokenizer = generation.load_model(generated / "models/merged")
    row = next(iter(read_jsonl(generated / "data/splits/verbosity_eval.jsonl")))
    conversations = generation.prompts([row], "TERSE") * 3  # the same prompt: the same first token
    first = generation.generate(model, tokenizer, conversations, 1)[0]["token_ids"][0]
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(first)  # every answer ends at its first token
    answers = generation.generate(model, tokenizer, conversations, 8, chunk=2)
    assert [(answer["token_ids"], answer["stopped"]) for answer in answers] == [([], True)] * 3


def test_generate_names_the_model_it_cannot_find(generated: Path) -> None:
    loaded = params.load(generated / "params.yaml")
    with pytest.raises(PipelineError, match=r"unknown model 'bf16' \(eval.models has: base, merged, awq\)"):
        generate.run(loaded, "bf16", generated)
    models = {**loaded.eval_.models, "merged": loaded.eval_.models["merged"].model_copy(update={"path": "nowhere"})}
    with pytest.raises(PipelineError, match=r"eval.models.merged.path: .*nowhere holds no model"):
        generate.run(loaded.model_copy(update={"eval_": loaded.eval_.model_copy(update={"models": models})}),
                     "merged", generated)


def test_answers_without_code_score_zero_not_unknown() -> None:
    records = iac_scoring.score([{"id": "a", "text": "I would use an S3 bucket.", "language": "terraform"},
                                 {"id": "b", "text": "```hcl\nresource \"x\" {\n", "language": "terraform"}],
                                None, "1.31.0")
    metrics = iac_scoring.summarize(records)
    assert [r["status"] for r in records] == ["no_code", "fail"]
    assert metrics["terraform_validate_pass_rate"] == 0.0 and metrics["checkov_high_on_pass"] in (0, None)


@pytest.mark.gpu
@pytest.mark.skipif(generation.backend() != "vllm", reason="needs vLLM and a CUDA GPU (the offline engine)")
def test_vllm_and_transformers_answer_alike(generated: Path) -> None:
    """Both backends decode the same rendered token ids greedily; bf16 kernels differ, so the first tokens
    must agree and every answer must be well-formed, not whole answers bit for bit."""
    import torch

    from stages import chat
    from stages.rows import read_jsonl

    rows = list(read_jsonl(generated / "data/splits/verbosity_eval.jsonl"))
    requests = [(c, 16) for style in chat.STYLE_TOKENS for c in generation.prompts(rows, style)]
    model_dir = generated / "models/merged"
    served = generation.generate_vllm(model_dir, requests, seed=42)
    model, tokenizer = generation.load_model(model_dir)
    local = generation.generate(model, tokenizer, [c for c, _ in requests], 16, batch_size=64)
    del model
    torch.cuda.empty_cache()
    assert all(a["tokens"] == len(a["token_ids"]) <= 16 for a in served)
    assert sum(a["token_ids"][:2] == b["token_ids"][:2] for a, b in zip(served, local, strict=True)) >= 0.9 * len(local)
