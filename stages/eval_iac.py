"""Stage `eval_iac@<model>`: the model's answers to held-out IaC prompts through the real toolchain (HCL
parse, terraform fmt/validate through the provider mirror, tflint, cfn-lint, kubernetes-validate --strict,
kubeconform, helm, checkov with the project's severity map). Generated code is never executed. Writes
metrics/iac_<model>.json and reports/iac/<model>.jsonl (every answer, every check, every message); for a
gated model, fails when a gate set in eval.iac is missed, after writing them."""

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stages import PipelineError, iac_scoring
from stages.generate import output_path
from stages.params import Params
from stages.rows import read_jsonl, write_jsonl


def print_summary(console: Console, metrics: dict[str, Any], title: str) -> None:
    table = Table("language", "samples", "passed", "pass rate", title=title)
    for language, counts in metrics["by_language"].items():
        table.add_row(language, str(counts["samples"]), str(counts["passed"]), f"{counts['pass_rate']:.0%}")
    console.print(table)
    for key in ("terraform_validate_pass_rate", "checkov_high_on_pass", "tflint_errors_on_pass",
                "cfn_lint_error_free_rate", "k8s_strict_pass_rate", "no_code", "partially_checked"):
        console.print(f"  {key}: {metrics[key]}")
    for tool, reason in metrics["tools_skipped"].items():
        console.print(f"  [yellow]skipped[/] {tool}: {reason}")


def gates_missed(params: Params, metrics: dict[str, Any]) -> list[str]:
    settings = params.eval_.iac
    missed = []
    rate, minimum = metrics["terraform_validate_pass_rate"], settings.min_terraform_validate_pass_rate
    if minimum is not None and (rate is None or rate < minimum):
        missed.append(f"terraform_validate_pass_rate {rate} < eval.iac.min_terraform_validate_pass_rate {minimum}")
    high, maximum = metrics["checkov_high_on_pass"], settings.max_checkov_high_on_pass
    if maximum is not None and (high is None or high > maximum):
        missed.append(f"checkov_high_on_pass {high} > eval.iac.max_checkov_high_on_pass {maximum}")
    return missed


def run(params: Params, model_name: str, root: Path = Path("."), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    settings = params.eval_.iac
    answers = [a for a in read_jsonl(output_path(model_name, root)) if a["set"] == "iac"]
    records = iac_scoring.score(answers, settings.terraform_plugin_dir, settings.kubernetes_version)
    metrics = iac_scoring.summarize(records)
    gated = params.eval_.models[model_name].gate
    missed = gates_missed(params, metrics)
    metrics["gates_missed"] = missed if gated else []
    metrics_path = root / "metrics" / f"iac_{model_name}.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    report_path = root / "reports" / "iac" / f"{model_name}.jsonl"
    write_jsonl(report_path, [record | {"answer": answer["text"], "tokens": answer["tokens"],
                                        "stopped": answer["stopped"]}
                              for record, answer in zip(records, answers, strict=True)])
    print_summary(console, metrics, f"iac@{model_name}: {len(records)} held-out prompts")
    if gated and missed:
        raise PipelineError(f"iac@{model_name}: " + "; ".join(missed) + f" (every check in {report_path})")
    return metrics
