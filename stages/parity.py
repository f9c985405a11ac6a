"""Stage `parity`: does the AWQ model still behave as the bf16 merged model does? Both answer the same
100-prompt suite greedily (verbosity and IaC held-out prompts, each in both styles), and score the held-out
reference answers. metrics/parity.json holds the greedy agreement over the first tokens, the exact-match
rate of whole answers, the perplexity of the references under each model, and the TERSE/VERBOSE ratio under
each; reports/parity.jsonl holds every answer pair. When a threshold in `parity` is crossed the stage writes
all of that and then fails, naming the threshold."""

import gc
import json
import math
import random
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from stages import PipelineError, chat, generation, training
from stages.params import Params
from stages.rows import read_jsonl, write_jsonl


def suite(verbosity_path: Path, iac_path: Path, per_set: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(prompts, references): each chosen prompt in both styles, and the held-out answers to score."""
    verbosity = list(read_jsonl(verbosity_path))[:per_set]
    iac_rows = list(read_jsonl(iac_path))
    iac = random.Random(seed).sample(iac_rows, min(per_set, len(iac_rows)))
    prompts = [{"set": name, "id": row["id"], "style": style, "row": {**row, "style": style}}
               for name, rows in (("verbosity", verbosity), ("iac", iac))
               for row in rows for style in chat.STYLE_TOKENS]
    references = [{**row, "style": style, "output": answer}
                  for row in verbosity for style, answer in row["references"].items()] + iac
    return prompts, references


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


def answer_and_score(model_dir: Path, prompts: list[dict], references: list[dict], max_new_tokens: int) -> tuple:
    model, tokenizer = generation.load_model(model_dir)
    answers = generation.generate(model, tokenizer, [chat.messages(p["row"], with_answer=False) for p in prompts],
                                  max_new_tokens, batch_size=16)
    score = perplexity(model, tokenizer, references)
    del model
    gc.collect()
    return answers, score


def style_ratio(prompts: list[dict], answers: list[dict]) -> float:
    total = {style: sum(a["tokens"] for p, a in zip(prompts, answers, strict=True)
                        if p["set"] == "verbosity" and p["style"] == style) for style in chat.STYLE_TOKENS}
    return round(total["VERBOSE"] / max(total["TERSE"], 1), 3)  # same prompt count per style: a ratio of means


def common_prefix(left: list[int], right: list[int]) -> int:
    length = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        length += 1
    return length


def compare(params: Params, prompts: list[dict], reference: tuple, candidate: tuple) -> tuple[dict, list[dict]]:
    settings = params.parity
    (answers_a, perplexity_a), (answers_b, perplexity_b) = reference, candidate
    first = settings.first_tokens
    pairs = []
    for prompt, a, b in zip(prompts, answers_a, answers_b, strict=True):
        shared = common_prefix(a["token_ids"], b["token_ids"])
        # Answers shorter than `first` agree over the whole of the shorter one only if they are equal.
        span = min(first, max(len(a["token_ids"]), len(b["token_ids"])))
        pairs.append({"id": prompt["id"], "set": prompt["set"], "style": prompt["style"],
                      "first_tokens_agreement": min(shared, span) / span if span else 1.0,
                      "exact_match": a["token_ids"] == b["token_ids"], "merged_tokens": a["tokens"],
                      "awq_tokens": b["tokens"], "merged": a["text"], "awq": b["text"]})
    ratio_a, ratio_b = style_ratio(prompts, answers_a), style_ratio(prompts, answers_b)
    metrics = {
        "prompts": len(prompts), "max_new_tokens": settings.max_new_tokens, "first_tokens": first,
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


def run(params: Params, merged_dir: Path = Path("models/merged"), awq_dir: Path = Path("models/awq"),
        splits: Path = Path("data/splits"), metrics_path: Path = Path("metrics/parity.json"),
        report_path: Path = Path("reports/parity.jsonl"), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    settings = params.parity
    prompts, references = suite(splits / "verbosity_eval.jsonl", splits / "iac_heldout.jsonl",
                                settings.prompts_per_set, params.split.seed)
    console.print(f"parity: {len(prompts)} prompts and {len(references)} held-out answers, {merged_dir} vs {awq_dir}")
    results = [answer_and_score(directory, prompts, references, settings.max_new_tokens)
               for directory in (merged_dir, awq_dir)]
    metrics, pairs = compare(params, prompts, *results)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    write_jsonl(report_path, pairs)

    table = Table("metric", "merged (bf16)", "AWQ", title="parity")
    table.add_row("perplexity of held-out answers", *map(str, metrics["perplexity"].values()))
    table.add_row("TERSE/VERBOSE ratio", *map(str, metrics["style_ratio"].values()))
    table.add_row(f"agreement, first {settings.first_tokens} tokens", "", str(metrics["first_tokens_agreement"]))
    table.add_row("whole answers identical", "", str(metrics["exact_match_rate"]))
    console.print(table)
    if metrics["thresholds_crossed"]:
        raise PipelineError("the AWQ model drifted from the merged model: " + "; ".join(metrics["thresholds_crossed"])
                            + f" (details in {metrics_path} and {report_path})")
    return metrics
