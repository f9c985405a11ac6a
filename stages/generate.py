"""Stage `generate@<model>`: greedy answers from one model directory (the base, the merged or the AWQ model)
to the evaluation prompts: the 25 verbosity prompts in both styles and a spread of held-out IaC prompts in
their own style. eval_verbosity, eval_iac and parity all read these answers, so a validator change re-scores
without generating again, and the AWQ comparison sees exactly the answers the evaluation saw."""

import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console

from stages import PipelineError, chat, generation
from stages.params import Params
from stages.rows import read_jsonl, write_jsonl


def output_path(model_name: str, root: Path = Path(".")) -> Path:
    return root / "reports" / "generations" / f"{model_name}.jsonl"


def iac_selection(rows: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """`count` prompts taken in turn from each language, the most common language first (seeded order within
    a language), so a small selection still covers every language; 0 takes all of them."""
    if count == 0 or count >= len(rows):
        return rows
    by_language: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_language[row["language"]].append(row)
    shuffler = random.Random(seed)
    queues = {language: shuffler.sample(group, len(group))
              for language, group in sorted(by_language.items(), key=lambda item: (-len(item[1]), item[0]))}
    chosen: list[dict[str, Any]] = []
    while len(chosen) < count:
        for queue in queues.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def evaluation_prompts(params: Params, splits: Path) -> list[dict[str, Any]]:
    """Every prompt a model answers, with what identifies it in the reports."""
    settings = params.eval_
    items = [{"set": "verbosity", "id": row["id"], "style": style, "language": None,
              "conversation": generation.prompts([row], style)[0], "max_new_tokens": settings.verbosity.max_new_tokens}
             for row in read_jsonl(splits / "verbosity_eval.jsonl") for style in chat.STYLE_TOKENS]
    iac = iac_selection(list(read_jsonl(splits / "iac_heldout.jsonl")), settings.iac.prompts, params.split.seed)
    items += [{"set": "iac", "id": row["id"], "style": row["style"], "language": row["language"],
               "conversation": chat.messages(row, with_answer=False), "max_new_tokens": settings.iac.max_new_tokens}
              for row in iac]
    return items


def run(params: Params, model_name: str, root: Path = Path("."), console: Console | None = None) -> list[dict]:
    console = console or Console()
    if model_name not in params.eval_.models:
        raise PipelineError(f"generate: unknown model {model_name!r} (eval.models has: "
                            f"{', '.join(params.eval_.models)})")
    model_dir = root / params.eval_.models[model_name].path
    if not (model_dir / "config.json").exists():
        raise PipelineError(f"eval.models.{model_name}.path: {model_dir} holds no model (run `dvc repro` first)")
    items = evaluation_prompts(params, root / "data" / "splits")
    console.print(f"generate@{model_name}: {len(items)} prompts, greedy, with {generation.backend()} from {model_dir}")
    started = time.perf_counter()
    answers = generation.answer_all(model_dir, [(i["conversation"], i["max_new_tokens"]) for i in items],
                                    params.eval_.batch_size, params.train_.seed)
    seconds = time.perf_counter() - started
    records = [{key: value for key, value in item.items() if key != "conversation"} | answer
               for item, answer in zip(items, answers, strict=True)]
    write_jsonl(output_path(model_name, root), records)
    tokens = sum(r["tokens"] for r in records)
    console.print(f"generate@{model_name}: {tokens} tokens in {seconds:.0f} s -> {output_path(model_name, root)}")
    return records
