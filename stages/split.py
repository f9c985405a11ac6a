"""Stage `split`: validated rows -> stage-1 train/eval, stage-2 train (IaC plus stage-1 replay), the
verbosity eval prompts and the held-out IaC prompts. Seeded, stratified, and checked for leakage:
no eval prompt appears, exactly or as a normalised near-duplicate, in a training set."""

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console

from stages import PipelineError
from stages.params import Params
from stages.rows import near_duplicate_pairs, normalise, prompt_text, read_jsonl, write_jsonl

Row = dict[str, Any]
TRAIN_SETS = ("stage1_train", "stage2_train")
EVAL_SETS = ("verbosity_eval", "stage1_eval", "iac_heldout")


def _groups(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows sharing a normalised prompt (the same question in both styles) stay together."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[normalise(prompt_text(row))].append(row)
    return dict(groups)


def _stratified_pick(groups: dict[str, list[Row]], stratum_of: Any, fraction: float,
                     rng: random.Random, at_least_one: bool) -> set[str]:
    strata: dict[str, list[str]] = defaultdict(list)
    for key in sorted(groups):
        strata[stratum_of(groups[key])].append(key)
    picked: set[str] = set()
    for stratum in sorted(strata):
        keys = strata[stratum]
        rng.shuffle(keys)
        count = round(fraction * len(keys))
        if at_least_one and count == 0 and len(keys) > 1:
            count = 1
        picked.update(keys[:count])
    return picked


def _allocate(total: int, strata: dict[str, list[Row]]) -> dict[str, int]:
    """Split `total` across strata in proportion to their sizes, summing exactly to `total`
    (largest remainders get the leftover units)."""
    size = sum(len(rows) for rows in strata.values())
    exact = {name: total * len(rows) / size for name, rows in sorted(strata.items())} if size else {}
    counts = {name: int(share) for name, share in exact.items()}
    leftover = total - sum(counts.values())
    for name in sorted(exact, key=lambda n: (counts[n] - exact[n], n))[:leftover]:
        counts[name] += 1
    return counts


def _style_signature(group: list[Row]) -> str:
    return "+".join(sorted({row["style"] for row in group}))


def _flatten(groups: dict[str, list[Row]], keys: set[str] | list[str]) -> list[Row]:
    return [row for key in sorted(keys) for row in groups[key]]


def _purge(train: list[Row], eval_rows: list[tuple[str, Row]], threshold: float) -> tuple[list[Row], list[Row]]:
    """Training rows that near-duplicate any eval prompt are moved out (kept, with the reason)."""
    pairs = near_duplicate_pairs([prompt_text(r) for r in train], [prompt_text(r) for _, r in eval_rows], threshold)
    best: dict[int, tuple[float, int]] = {}
    for i, j, score in pairs:
        best[i] = max(best.get(i, (0.0, -1)), (score, j))
    kept, purged = [], []
    for i, row in enumerate(train):
        if i not in best:
            kept.append(row)
            continue
        score, j = best[i]
        name, eval_row = eval_rows[j]
        purged.append({**row, "reasons": [{"code": "near_duplicate_of_eval",
                                           "detail": f"similarity {score:.2f} to {name} {eval_row['id']}"}]})
    return kept, purged


def find_leaks(sets: dict[str, list[Row]], threshold: float) -> list[dict[str, Any]]:
    """Every (eval prompt, training row) pair at or above the near-duplicate threshold."""
    leaks = []
    for eval_name in EVAL_SETS:
        for train_name in TRAIN_SETS:
            eval_rows, train_rows = sets[eval_name], sets[train_name]
            pairs = near_duplicate_pairs([prompt_text(r) for r in eval_rows], [prompt_text(r) for r in train_rows],
                                         threshold)
            leaks += [{"eval": f"{eval_name}:{eval_rows[i]['id']}", "train": f"{train_name}:{train_rows[j]['id']}",
                       "similarity": round(score, 3)} for i, j, score in pairs]
    return leaks


def _count(rows: list[Row], key: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row[key]] += 1
    return dict(sorted(counts.items()))


def _eval_prompt(group: list[Row]) -> Row:
    first = group[0]
    return {"id": first["id"], "system": first["system"], "instruction": first["instruction"],
            "input": first["input"], "references": {row["style"]: row["output"] for row in group},
            "row_ids": [row["id"] for row in group]}


def run(params: Params, root: Path = Path("."), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    config = params.split
    rng = random.Random(config.seed)
    verbosity = list(read_jsonl(root / "data/validated/verbosity.jsonl"))
    iac = list(read_jsonl(root / "data/validated/iac.jsonl"))

    verbosity_groups = _groups(verbosity)
    candidates = sorted(key for key, group in verbosity_groups.items() if _style_signature(group) == "TERSE+VERBOSE")
    if len(candidates) < config.verbosity_eval_prompts:
        raise PipelineError(
            f"split.verbosity_eval_prompts is {config.verbosity_eval_prompts}, but only {len(candidates)} prompts "
            "have both a TERSE and a VERBOSE answer; add such pairs to the verbosity corpus or lower the number")
    eval_keys = set(rng.sample(candidates, config.verbosity_eval_prompts))
    remaining = {key: group for key, group in verbosity_groups.items() if key not in eval_keys}
    stage1_eval_keys = _stratified_pick(remaining, _style_signature, config.stage1_eval_fraction, rng, False)

    iac_groups = _groups(iac)
    heldout_keys = _stratified_pick(iac_groups, lambda group: group[0]["language"],
                                    config.iac_heldout_fraction, rng, True)
    sets: dict[str, list[Row]] = {
        "verbosity_eval": [_eval_prompt(verbosity_groups[key]) for key in sorted(eval_keys)],
        "stage1_eval": _flatten(remaining, stage1_eval_keys),
        "iac_heldout": _flatten(iac_groups, heldout_keys),
    }
    eval_index = [(name, row) for name in EVAL_SETS for row in sets[name]]
    stage1_train, purged_stage1 = _purge(_flatten(remaining, set(remaining) - stage1_eval_keys),
                                         eval_index, config.near_duplicate_threshold)
    iac_train, purged_iac = _purge(_flatten(iac_groups, set(iac_groups) - heldout_keys),
                                   eval_index, config.near_duplicate_threshold)

    # replay_fraction is the share of the stage-2 mix that is stage-1 data (DESIGN.md decision 5).
    replay_count = round(config.replay_fraction / (1 - config.replay_fraction) * len(iac_train))
    by_style: dict[str, list[Row]] = defaultdict(list)
    for row in stage1_train:
        by_style[row["style"]].append(row)
    replay: list[Row] = []
    for style, count in _allocate(min(replay_count, len(stage1_train)), by_style).items():
        replay += rng.sample(by_style[style], count)
    stage2_train = iac_train + replay
    rng.shuffle(stage2_train)
    sets.update({"stage1_train": stage1_train, "stage2_train": stage2_train})

    leaks = find_leaks(sets, config.near_duplicate_threshold)
    purged = purged_stage1 + purged_iac
    out_dir = root / "data/splits"
    for name, rows in sets.items():
        write_jsonl(out_dir / f"{name}.jsonl", rows)
    write_jsonl(out_dir / "purged.jsonl", purged)

    metrics = {
        "seed": config.seed,
        "counts": {name: len(rows) for name, rows in sets.items()} | {
            "stage2_iac": len(iac_train), "stage2_replay": len(replay), "purged": len(purged)},
        "stage2_replay_share": round(len(replay) / len(stage2_train), 4) if stage2_train else 0.0,
        "stage1_train_styles": _count(stage1_train, "style"),
        "stage2_train_languages": _count(iac_train, "language"),
        "iac_heldout_languages": _count(sets["iac_heldout"], "language"),
        "leakage": {"threshold": config.near_duplicate_threshold, "purged_near_duplicates": len(purged),
                    "leaks": len(leaks), "passed": not leaks},
    }
    metrics_path = root / "metrics/split.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    console.print(f"split: {metrics['counts']}; leakage check {'passed' if not leaks else 'FAILED'}")
    if leaks:  # the purge above makes this unreachable unless the sets were built wrong
        raise PipelineError(f"eval prompts leak into training: {leaks[:5]}")
    return metrics
