"""Stage `parity`: does the AWQ model still behave as the bf16 merged model does? It compares the greedy
answers both gave to the evaluation prompts (reports/generations/, written by generate@merged and
generate@awq: verbosity prompts in both styles, held-out IaC prompts) and scores the held-out reference
answers under each. metrics/parity.json holds the greedy agreement over the first tokens, the exact-match
rate of whole answers, the perplexity of the references under each model, and the TERSE/VERBOSE ratio under
each; reports/parity.jsonl holds every answer pair. When a threshold in `parity` is crossed the stage writes
all of that and then fails, naming the threshold."""

import gc
import json
import math
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from stages import PipelineError, eval_verbosity, generation, training
from stages.generate import output_path
from stages.params import Params
from stages.rows import read_jsonl, write_jsonl


def references(answers: list[dict], splits: Path) -> list[dict]:
    """The held-out answers to the prompts that were generated for: both references of each verbosity
    prompt, and the IaC rows' own answers."""
    asked = {a["id"] for a in answers}
    verbosity = [row for row in read_jsonl(splits / "verbosity_eval.jsonl") if row["id"] in asked]
    iac = [row for row in read_jsonl(splits / "iac_heldout.jsonl") if row["id"] in asked]
    return [{**row, "style": style, "output": answer}
            for row in verbosity for style, answer in row["references"].items()] + iac


@torch.no_grad()
def perplexity(model: Any, tokenizer: Any, references: list[dict]) -> float:
    """exp of the mean negative log-likelihood of the answer tokens (and end of turn), as training scores them."""
    total_loss, total_tokens = 0.0, 0
    for row in references:
        example = training.tokenize(row, tokenizer)
        ids = torch.tensor([example["input_ids"]], device=model.device)
        labels = ids.masked_fill(torch.tensor([example["completion_mask"]], device=model.device) == 0, -100)
        tokens = int((labels[:, 1:] != -100).sum())
        total_loss += float(model(input_ids=ids, labels=labels).loss) * tokens
        total_tokens += tokens
    return math.exp(total_loss / total_tokens)


def score(model_dir: Path, rows: list[dict]) -> float:
    model, tokenizer = generation.load_model(model_dir)
    value = perplexity(model, tokenizer, rows)
    del model
    gc.collect()
    return value


def style_ratio(answers: list[dict], params: Params) -> float:
    settings = params.eval_.verbosity
    return eval_verbosity.summarize([a for a in answers if a["set"] == "verbosity"], settings.terse_max_tokens,
                                    settings.verbose_min_tokens)["ratio"]


def common_prefix(left: list[int], right: list[int]) -> int:
    length = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        length += 1
    return length


def compare(params: Params, reference: tuple[list[dict], float], candidate: tuple[list[dict], float]
            ) -> tuple[dict, list[dict]]:
    """Pairs the merged model's answers (reference) with the AWQ model's (candidate), prompt by prompt."""
    settings = params.parity
    (answers_a, perplexity_a), (answers_b, perplexity_b) = reference, candidate
    if [(a["set"], a["id"], a["style"]) for a in answers_a] != [(b["set"], b["id"], b["style"]) for b in answers_b]:
        raise PipelineError("parity: the merged and AWQ generations answer different prompts; rerun generate@ "
                            "for both with the same eval params")
    first = settings.first_tokens
    pairs = []
    for a, b in zip(answers_a, answers_b, strict=True):
        shared = common_prefix(a["token_ids"], b["token_ids"])
        # Answers shorter than `first` agree over the whole of the shorter one only if they are equal.
        span = min(first, max(len(a["token_ids"]), len(b["token_ids"])))
        pairs.append({"id": a["id"], "set": a["set"], "style": a["style"],
                      "first_tokens_agreement": min(shared, span) / span if span else 1.0,
                      "exact_match": a["token_ids"] == b["token_ids"], "merged_tokens": a["tokens"],
                      "awq_tokens": b["tokens"], "merged": a["text"], "awq": b["text"]})
    ratio_a, ratio_b = style_ratio(answers_a, params), style_ratio(answers_b, params)
    metrics = {
        "prompts": len(pairs), "first_tokens": first,
        "first_tokens_agreement": round(sum(p["first_tokens_agreement"] for p in pairs) / len(pairs), 4),
        "exact_match_rate": round(sum(p["exact_match"] for p in pairs) / len(pairs), 4),
        "perplexity": {"merged": round(perplexity_a, 4), "awq": round(perplexity_b, 4)},
        "perplexity_increase": round(perplexity_b / perplexity_a - 1, 4),
        "style_ratio": {"merged": ratio_a, "awq": ratio_b},
        "style_ratio_drop": round(max(0.0, 1 - ratio_b / ratio_a), 4),
    }
    for name in ("verbosity", "iac"):
        subset = [p for p in pairs if p["set"] == name]
        metrics[f"{name}_first_tokens_agreement"] = round(sum(p["first_tokens_agreement"] for p in subset)
                                                          / max(len(subset), 1), 4)
    crossed = []
    if metrics["perplexity_increase"] > settings.max_perplexity_increase:
        crossed.append(f"perplexity_increase {metrics['perplexity_increase']} > parity.max_perplexity_increase "
                       f"{settings.max_perplexity_increase}")
    if metrics["first_tokens_agreement"] < settings.min_first_tokens_agreement:
        crossed.append(f"first_tokens_agreement {metrics['first_tokens_agreement']} < "
                       f"parity.min_first_tokens_agreement {settings.min_first_tokens_agreement}")
    if metrics["style_ratio_drop"] > settings.max_style_ratio_drop:
        crossed.append(f"style_ratio_drop {metrics['style_ratio_drop']} > parity.max_style_ratio_drop "
                       f"{settings.max_style_ratio_drop}")
    metrics["thresholds_crossed"] = crossed
    return metrics, pairs


def run(params: Params, root: Path = Path("."), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    metrics_path, report_path = root / "metrics" / "parity.json", root / "reports" / "parity.jsonl"
    answers = {name: list(read_jsonl(output_path(name, root))) for name in ("merged", "awq")}
    rows = references(answers["merged"], root / "data" / "splits")
    console.print(f"parity: {len(answers['merged'])} answer pairs and {len(rows)} held-out answers, merged vs AWQ")
    scores = {name: score(root / params.eval_.models[name].path, rows) for name in answers}
    metrics, pairs = compare(params, (answers["merged"], scores["merged"]), (answers["awq"], scores["awq"]))
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_jsonl(report_path, pairs)

    table = Table("metric", "merged (bf16)", "AWQ", title="parity")
    table.add_row("perplexity of held-out answers", *map(str, metrics["perplexity"].values()))
    table.add_row("TERSE/VERBOSE ratio", *map(str, metrics["style_ratio"].values()))
    table.add_row(f"agreement, first {params.parity.first_tokens} tokens", "", str(metrics["first_tokens_agreement"]))
    table.add_row("whole answers identical", "", str(metrics["exact_match_rate"]))
    console.print(table)
    if metrics["thresholds_crossed"]:
        raise PipelineError("the AWQ model drifted from the merged model: " + "; ".join(metrics["thresholds_crossed"])
                            + f" (details in {metrics_path} and {report_path})")
    return metrics
