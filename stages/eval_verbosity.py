"""Stage `eval_verbosity@<model>`: does the style token control the length? From the model's greedy
answers to the 25 held-out verbosity prompts in both styles: mean and median generated tokens per style,
the VERBOSE/TERSE separation ratio, the share of TERSE answers over a token bound and of VERBOSE answers
under one. Writes metrics/verbosity_<model>.json, a per-prompt table and a length histogram (a DVC plot);
for a gated model, fails below eval.verbosity.min_ratio after writing them."""

import csv
import json
import statistics
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stages import PipelineError, chat
from stages.generate import output_path
from stages.params import Params
from stages.rows import read_jsonl

HISTOGRAM_BIN = 16  # tokens per histogram bar


def summarize(answers: list[dict[str, Any]], terse_max_tokens: int, verbose_min_tokens: int) -> dict[str, Any]:
    """Per-style length statistics over answers of the verbosity set, and the separation ratio (a ratio
    of means: every prompt is asked in both styles)."""
    result: dict[str, Any] = {"prompts": len({a["id"] for a in answers})}
    for style in chat.STYLE_TOKENS:
        lengths = [a["tokens"] for a in answers if a["style"] == style]
        result[style] = {"mean_tokens": round(statistics.fmean(lengths), 2),
                         "median_tokens": statistics.median(lengths),
                         "stopped_share": round(sum(a["stopped"] for a in answers if a["style"] == style)
                                                / len(lengths), 4)}
    result["TERSE"]["over_bound_share"] = round(sum(a["tokens"] > terse_max_tokens for a in answers
                                                    if a["style"] == "TERSE") / result["prompts"], 4)
    result["VERBOSE"]["under_bound_share"] = round(sum(a["tokens"] < verbose_min_tokens for a in answers
                                                       if a["style"] == "VERBOSE") / result["prompts"], 4)
    result["ratio"] = round(result["VERBOSE"]["mean_tokens"] / max(result["TERSE"]["mean_tokens"], 1.0), 3)
    return result


def per_prompt(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for answer in answers:
        row = by_id.setdefault(answer["id"], {"id": answer["id"]})
        row[f"{answer['style'].lower()}_tokens"] = answer["tokens"]
        row[f"{answer['style'].lower()}_stopped"] = answer["stopped"]
        row[f"{answer['style'].lower()}_start"] = " ".join(answer["text"].split())[:80]
    for row in by_id.values():
        row["ratio"] = round(row["verbose_tokens"] / max(row["terse_tokens"], 1), 2)
    return list(by_id.values())


def histogram(answers: list[dict[str, Any]], limit: int) -> list[dict[str, int]]:
    """Answers per HISTOGRAM_BIN-token bin and style, every bin up to the generation limit listed."""
    bins = range(0, limit + 1, HISTOGRAM_BIN)
    return [{"tokens": start, **{style: sum(start <= a["tokens"] < start + HISTOGRAM_BIN
                                            for a in answers if a["style"] == style) for style in chat.STYLE_TOKENS}}
            for start in bins]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run(params: Params, model_name: str, root: Path = Path("."), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    settings = params.eval_.verbosity
    answers = [a for a in read_jsonl(output_path(model_name, root)) if a["set"] == "verbosity"]
    metrics = summarize(answers, settings.terse_max_tokens, settings.verbose_min_tokens)
    metrics["max_new_tokens"] = settings.max_new_tokens
    gated = params.eval_.models[model_name].gate
    metrics["gate"] = {"min_ratio": settings.min_ratio, "applies": gated,
                       "passed": metrics["ratio"] >= settings.min_ratio}
    metrics_path = root / "metrics" / f"verbosity_{model_name}.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    reports = root / "reports" / "verbosity"
    _write_csv(reports / f"{model_name}.csv", per_prompt(answers))
    _write_csv(reports / f"{model_name}_lengths.csv", histogram(answers, settings.max_new_tokens))

    table = Table("style", "mean tokens", "median", "stopped", "outside bound", title=f"verbosity@{model_name}")
    for style, bound in (("TERSE", "over_bound_share"), ("VERBOSE", "under_bound_share")):
        stats = metrics[style]
        table.add_row(style, str(stats["mean_tokens"]), str(stats["median_tokens"]), f"{stats['stopped_share']:.0%}",
                      f"{stats[bound]:.0%}")
    console.print(table)
    console.print(f"VERBOSE/TERSE ratio {metrics['ratio']} (gate {settings.min_ratio}, "
                  f"{'applies' if gated else 'not applied to this model'})")
    if gated and not metrics["gate"]["passed"]:
        raise PipelineError(f"verbosity@{model_name}: ratio {metrics['ratio']} < eval.verbosity.min_ratio "
                            f"{settings.min_ratio} (per-prompt lengths in {reports / (model_name + '.csv')})")
    return metrics
