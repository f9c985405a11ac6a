import difflib
import json
from pathlib import Path

import pytest

from stages import PipelineError, split
from stages.rows import normalise, prompt_text, write_jsonl
from tests.conftest import edit_params, load_params

SPLIT_FILES = ("stage1_train", "stage1_eval", "stage2_train", "verbosity_eval", "iac_heldout", "purged")
LANGUAGES = ("terraform", "kubernetes", "cloudformation", "helm", "pulumi")


def _row(source: str, line: int, instruction: str, style: str, **extra: str) -> dict:
    return {"id": f"{source}:{line}", "source": source, "line": line, "system": "", "instruction": instruction,
            "input": "", "output": f"answer {line}", "style": style, **extra}


ADJECTIVES = ("lazy", "eager", "sharded", "cached", "pooled", "signed", "nested", "sorted", "frozen", "mutable")
NOUNS = ("queues", "indexes", "sockets", "threads", "graphs")


def _validated(project: Path, planted_twins: int = 0) -> None:
    """40 verbosity prompts in both styles and 50 IaC prompts over five languages. Each of the first
    `planted_twins` verbosity prompts also has a near-duplicate phrasing, one character longer."""
    topics = [f"{adjective} {noun}" for adjective in ADJECTIVES[:8] for noun in NOUNS]
    verbosity, line = [], 0
    for index, topic in enumerate(topics):
        phrasings = [f"Explain how {topic} work in practice"]
        if index < planted_twins:
            phrasings.append(f"Explain how {topic} work in practices")
        for phrasing in phrasings:
            for style in ("TERSE", "VERBOSE"):
                line += 1
                verbosity.append(_row("verbosity", line, phrasing, style))
    iac = [_row("iac", n + 1, f"Write {LANGUAGES[n % 5]} config for the {ADJECTIVES[n // 5]} {NOUNS[n % 5]} service",
                "VERBOSE", language=LANGUAGES[n % 5]) for n in range(50)]
    write_jsonl(project / "data/validated/verbosity.jsonl", verbosity)
    write_jsonl(project / "data/validated/iac.jsonl", iac)


def _read(project: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (project / f"data/splits/{name}.jsonl").read_text().splitlines()]


def test_planted_near_duplicates_are_caught_and_no_eval_prompt_leaks(project: Path) -> None:
    _validated(project, planted_twins=40)
    metrics = split.run(load_params())

    purged = _read(project, "purged")
    assert purged, "with every prompt planted twice, some twins must land on the training side and be purged"
    assert all(r["reasons"][0]["code"] == "near_duplicate_of_eval" for r in purged)
    assert metrics["leakage"] == {"threshold": 0.8, "purged_near_duplicates": len(purged), "leaks": 0,
                                  "passed": True}
    # An independent check by another measure than the stage's: no training prompt is a character or two
    # away from an eval prompt (one-word differences, like "lazy queues" vs "lazy graphs", are not leaks).
    assert _independent_leaks(project) == []

    # The independent check does find the twins when the stage's threshold is set too high to catch them.
    edit_params(project / "params.yaml", **{"split.near_duplicate_threshold": 0.99})
    assert split.run(load_params())["leakage"]["purged_near_duplicates"] == 0
    assert _independent_leaks(project)


def _independent_leaks(project: Path) -> list[str]:
    eval_prompts = [normalise(prompt_text(r)) for name in ("verbosity_eval", "stage1_eval", "iac_heldout")
                    for r in _read(project, name)]
    return [row["id"] for name in ("stage1_train", "stage2_train") for row in _read(project, name)
            if any(difflib.SequenceMatcher(None, normalise(prompt_text(row)), e).ratio() >= 0.97
                   for e in eval_prompts)]


def test_split_is_seeded_stratified_and_loses_nothing(project: Path) -> None:
    _validated(project)
    metrics = split.run(load_params())
    first = {name: (project / f"data/splits/{name}.jsonl").read_bytes() for name in SPLIT_FILES}
    split.run(load_params())
    assert first == {name: (project / f"data/splits/{name}.jsonl").read_bytes() for name in SPLIT_FILES}

    verbosity_eval = _read(project, "verbosity_eval")
    assert len(verbosity_eval) == 25 and all(set(p["references"]) == {"TERSE", "VERBOSE"} for p in verbosity_eval)
    assert metrics["iac_heldout_languages"] == {language: 1 for language in sorted(LANGUAGES)}  # 10% of 10 each

    # Every validated row lands in exactly one place (replay rows are copies of stage-1 training rows).
    stage2 = _read(project, "stage2_train")
    placed = ([r["id"] for r in _read(project, "stage1_train")] + [r["id"] for r in _read(project, "stage1_eval")]
              + [i for p in verbosity_eval for i in p["row_ids"]] + [r["id"] for r in _read(project, "iac_heldout")]
              + [r["id"] for r in stage2 if r["source"] == "iac"] + [r["id"] for r in _read(project, "purged")])
    assert sorted(placed) == sorted({r for r in placed}) and len(placed) == 80 + 50

    replay = [r for r in stage2 if r["source"] == "verbosity"]
    assert metrics["counts"]["stage2_replay"] == len(replay) == 4  # 0.08 / 0.92 * 45 IaC rows
    assert {r["style"] for r in replay} == {"TERSE", "VERBOSE"}
    stage1_ids = {r["id"] for r in _read(project, "stage1_train")}
    assert all(r["id"] in stage1_ids for r in replay)


def test_a_different_seed_gives_a_different_eval_set(project: Path) -> None:
    _validated(project)
    split.run(load_params())
    first = _read(project, "verbosity_eval")
    edit_params(project / "params.yaml", **{"split.seed": 7})
    split.run(load_params())
    assert _read(project, "verbosity_eval") != first


def test_too_few_paired_prompts_is_a_clear_error(project: Path) -> None:
    _validated(project)
    edit_params(project / "params.yaml", **{"split.verbosity_eval_prompts": 41})
    with pytest.raises(PipelineError, match="only 40 prompts have both a TERSE and a VERBOSE answer"):
        split.run(load_params())
