"""Stage `report`: reports/TRAINING_LOG.md, the record a reviewer needs to trust or repeat a run (the seed's
section 9): base model id and revision, package versions, hardware, seed, the full training arguments of
both stages, dataset SHA256s, evaluation results, serving notes and curves. Written from the pipeline's
own outputs by `dvc repro`; never edited by hand."""

import csv
import json
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from stages import training
from stages.params import Params

PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "llmcompressor",
            "compressed-tensors", "vllm", "dvc", "dvclive", "great-expectations", "python-hcl2", "cfn-lint",
            "kubernetes-validate")
SPARKS = "▁▂▃▄▅▆▇█"
OUTPUT = Path("reports/TRAINING_LOG.md")


def _json(root: Path, name: str) -> dict[str, Any] | None:
    path = root / "metrics" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def hardware() -> list[tuple[str, str]]:
    if torch.cuda.is_available():
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        return [(f"GPU {i}", f"{torch.cuda.get_device_name(i)}, "
                             f"{torch.cuda.get_device_properties(i).total_memory / 2**30:.1f} GiB")
                for i in range(torch.cuda.device_count())] + [("CUDA", str(torch.version.cuda)), ("driver", driver)]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    memory = next((int(line.split()[1]) / 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0.0)
    return [("CPU", f"{cpu}, {torch.get_num_threads()} threads"), ("memory", f"{memory:.1f} GiB"), ("GPU", "none")]


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    return "".join(SPARKS[round((v - low) / (high - low) * (len(SPARKS) - 1)) if high > low else 0] for v in values)


def _curve(root: Path, stage: str) -> list[float]:
    path = root / "reports" / "curves" / stage / "plots" / "metrics" / "loss.tsv"
    if not path.exists():
        return []
    with path.open() as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle, delimiter="\t")]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join("—" if cell is None else str(cell) for cell in row) + " |" for row in rows)]


def _details(summary: str, payload: Any) -> list[str]:
    return ["<details><summary>" + summary + "</summary>", "", "```json", json.dumps(payload, indent=2, default=str),
            "```", "", "</details>", ""]


def training_section(root: Path, params: Params) -> list[str]:
    lines = ["## Training", "", f"Seed {params.train_.seed} (data order, LoRA init, dropout). "
             "Curves: `dvc plots show` (training_loss, learning_rate).", ""]
    for stage in ("train_stage1", "train_stage2"):
        metrics = _json(root, stage)
        if metrics is None:
            lines += [f"### {stage}", "", "not run yet", ""]
            continue
        used = training.Hardware(**metrics["hardware"])
        config = training.sft_config(params.train(stage), params.train_, used, Path("checkpoints") / stage, stage)
        lines += [f"### {stage}", "", *_table(
            ["device", "quantization", "precision", "processes", "global batch", "steps", "final loss", "eval loss",
             "tokens seen", "tokens/s", "peak memory GiB", "wall s"],
            [[used.device, used.quantization, used.precision, metrics.get("processes", 1), metrics.get("global_batch"),
              metrics["steps"], metrics["final_loss"],
              metrics["eval_loss"], metrics["tokens_seen"], metrics["tokens_per_second"], metrics["peak_memory_gib"],
              metrics["wall_seconds"]]]), "", f"loss by step: `{sparkline(_curve(root, stage))}`", "",
            *_details("full SFTConfig (TRL) and LoRA parameters", {"sft_config": config.to_dict(),
                                                                  "train": params.train_.model_dump(),
                                                                  stage: params.train(stage).model_dump()})]
    return lines


def data_section(root: Path) -> list[str]:
    files = sorted(p for folder in ("data/raw", "data/validated", "data/splits")
                   for p in (root / folder).glob("*.jsonl"))
    split = _json(root, "split") or {}
    return ["## Data", "", *_table(["file", "rows", "SHA256"],
                                   [[f"`{p.relative_to(root)}`", sum(1 for _ in p.open()), training.file_sha256(p)]
                                    for p in files]), "",
            f"Leakage check between training and evaluation prompts: "
            f"{'passed' if split.get('leakage', {}).get('passed') else 'see metrics/split.json'}.", ""]


def evaluation_section(root: Path, params: Params) -> list[str]:
    models = list(params.eval_.models)
    verbosity = {m: _json(root, f"verbosity_{m}") for m in models}
    iac = {m: _json(root, f"iac_{m}") for m in models}
    lines = ["## Evaluation", "", f"Greedy, {params.eval_.verbosity.max_new_tokens} new tokens on the 25 verbosity "
             f"prompts, {params.eval_.iac.max_new_tokens} on the held-out IaC prompts.", "", "### Verbosity", "",
             *_table(["model", "TERSE mean", "VERBOSE mean", "ratio", f"gate ≥ {params.eval_.verbosity.min_ratio}"],
                     [[m, v["TERSE"]["mean_tokens"], v["VERBOSE"]["mean_tokens"], v["ratio"],
                       ("passed" if v["gate"]["passed"] else "missed") if v["gate"]["applies"] else "not applied"]
                      for m, v in verbosity.items() if v]), "", "### IaC (held-out prompts)", "",
             *_table(["model", "samples", "pass rate", "terraform validate", "checkov HIGH on pass",
                      "tflint errors on pass", "cfn-lint error-free", "k8s strict", "no code"],
                     [[m, r["samples"], r["pass_rate"], r["terraform_validate_pass_rate"], r["checkov_high_on_pass"],
                       r["tflint_errors_on_pass"], r["cfn_lint_error_free_rate"], r["k8s_strict_pass_rate"],
                       r["no_code"]] for m, r in iac.items() if r]), ""]
    skipped = {tool: reason for r in iac.values() if r for tool, reason in r["tools_skipped"].items()}
    lines += [f"Skipped tools (never counted as passes): {', '.join(f'{t} ({r})' for t, r in skipped.items())}."
              if skipped else "Every validator ran.", ""]
    parity, public = _json(root, "parity"), _json(root, "public")
    if parity:
        lines += ["### AWQ parity", "", *_table(["perplexity merged", "perplexity AWQ", "increase",
                                                 "first-token agreement", "style ratio merged", "style ratio AWQ"],
                                                [[parity["perplexity"]["merged"], parity["perplexity"]["awq"],
                                                  parity["perplexity_increase"], parity["first_tokens_agreement"],
                                                  parity["style_ratio"]["merged"], parity["style_ratio"]["awq"]]]), ""]
    if public:
        lines += ["### Public benchmarks", ""]
        lines += [public["skipped"], ""] if "skipped" in public else [*_table(
            ["suite", "samples", "pass rate", "terraform validate", "cfn-lint error-free", "k8s strict"],
            [[s, r.get("samples"), r.get("pass_rate", r.get("skipped")), r.get("terraform_validate_pass_rate"),
              r.get("cfn_lint_error_free_rate"), r.get("k8s_strict_pass_rate")] for s, r in public["suites"].items()]),
            ""]
    return lines


def render(params: Params, root: Path = Path(".")) -> str:
    base = _json(root, "base_model") or {}
    merge, quantize = _json(root, "merge"), _json(root, "quantize")
    lines = ["# Training log", "", "Written by `qwen-iac report` (DVC stage `report`) from the pipeline's outputs; "
             "`dvc repro` regenerates it. Do not edit by hand.", "", "## Base model", "",
             *_table(["id", "revision", "source SHA256", "architecture", "parameters", "tied embeddings"],
                     [[f"`{params.model.base}`", params.model.revision, base.get("source", {}).get("sha256"),
                       base.get("architecture"), base.get("parameters"), base.get("tied_embeddings")]]), "",
             "## Environment", "", "Where this report was written (training hardware is in each stage's table).", "",
             *_table(["", ""], [["Python", platform.python_version()], ["platform", platform.platform()],
                                *hardware(), *[[name, _package(name)] for name in PACKAGES]]), ""]
    lines += training_section(root, params) + data_section(root)
    lines += ["## Merge and quantization", "", *_details("metrics/merge.json", merge),
              *_details("metrics/quantize.json", quantize), *evaluation_section(root, params)]
    lines += ["## Serving", "", "Serve `models/merged` or `models/awq` (vLLM cannot load an adapter that adds tokens: "
              "DESIGN.md decision 9). A client asks for a style by starting the user message with "
              f"`{'` or `'.join(['<STYLE_TERSE>', '<STYLE_VERBOSE>'])}` ({params.train_.style_markers} markers).", ""]
    return "\n".join(lines)


def run(params: Params, root: Path = Path("."), console: Console | None = None) -> Path:
    console = console or Console()
    path = root / OUTPUT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(params, root), encoding="utf-8")
    console.print(f"report: {path}")
    return path
