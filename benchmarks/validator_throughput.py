"""Validator throughput, per tool family: batched, as toolchain.check_all runs each family (one tool run
over many samples), against one sample at a time (what calling check_all per sample costs), on the same
samples in one run. Both ways must give every sample the same status from every tool; a disagreement
is reported (and the run exits 1), never hidden. Samples are the IaC answers of the held-out and Stage-2
splits, built as the evaluation builds them. Run from the repository root:

    python -m benchmarks.validator_throughput --out benchmarks/results/validator_throughput.json
"""

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from stages.iac_code import to_files
from stages.rows import read_jsonl
from stages.validators import Check, Sample, kubernetes, toolchain

SPLITS = (Path("data/splits/iac_heldout.jsonl"), Path("data/splits/stage2_train.jsonl"))
DEFAULT_COUNTS = {"terraform": 40, "cloudformation": 20, "kubernetes": 20, "helm": 10, "pulumi": 10}


def load_samples(counts: dict[str, int]) -> list[Sample]:
    """The first answers of each language, in split order, that hold code of that language."""
    samples: list[Sample] = []
    taken: Counter = Counter()
    seen: set[str] = set()
    for split in SPLITS:
        for row in read_jsonl(split):
            language = row.get("language")
            if language not in counts or taken[language] >= counts[language] or not row.get("output"):
                continue
            try:
                files = to_files(language, row["output"])
            except ValueError:  # a file name leaving the sample: the evaluation fails it without a tool
                continue
            if files and row["id"] not in seen:
                seen.add(row["id"])
                taken[language] += 1
                samples.append(Sample(row["id"], language, files))
    return samples


def _timed(run: toolchain.Family, batches: list[list[Sample]]) -> tuple[float, dict[str, list[Check]]]:
    started, results = time.perf_counter(), {}
    for batch in batches:
        results.update(run(batch))
    return time.perf_counter() - started, results


def _statuses(checks: list[Check]) -> list[tuple[str, str]]:
    return sorted((c.tool, c.status) for c in checks)


def _disagreements(batched: dict[str, list[Check]], alone: dict[str, list[Check]]) -> list[dict]:
    found = []
    for sample_id in sorted(batched.keys() | alone.keys()):
        if _statuses(batched.get(sample_id, [])) != _statuses(alone.get(sample_id, [])):
            found.append({"sample": sample_id,
                          "batched": [c.as_dict() for c in batched.get(sample_id, [])],
                          "one_by_one": [c.as_dict() for c in alone.get(sample_id, [])]})
    return found


def _rate(samples: int, seconds: float) -> float | None:
    return round(samples / seconds, 2) if seconds > 0 else None


def measure_family(run: toolchain.Family, group: list[Sample]) -> dict:
    run(group[:1])  # warm-up, untimed: the first start of a tool reads it from disk, whichever way goes first
    batched_s, batched = _timed(run, [group])
    alone_s, alone = _timed(run, [[sample] for sample in group])
    tools: dict[str, Counter] = defaultdict(Counter)
    skipped: dict[str, str] = {}
    for checks in batched.values():
        for check in checks:
            tools[check.tool][check.status] += 1
            if check.status == "skipped":
                skipped.setdefault(check.tool, check.message)
    ran = any(c.status != "skipped" for checks in batched.values() for c in checks)
    return {
        "samples": len(batched),  # those the family checks (checkov: terraform, cloudformation, kubernetes)
        "ran": ran,
        "batched_s": round(batched_s, 3),
        "one_by_one_s": round(alone_s, 3),
        # A family whose tools are all absent times only its own bookkeeping: no rate, no speedup.
        "batched_samples_per_s": _rate(len(batched), batched_s) if ran else None,
        "one_by_one_samples_per_s": _rate(len(batched), alone_s) if ran else None,
        "speedup": round(alone_s / batched_s, 2) if ran and batched_s > 0 else None,
        "tools": {tool: dict(counts) for tool, counts in sorted(tools.items())},
        "skipped": skipped,
        "disagreements": _disagreements(batched, alone),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/validator_throughput.json"))
    parser.add_argument("--per-language", type=int, default=None,
                        help=f"samples per language (default: {DEFAULT_COUNTS})")
    parser.add_argument("--plugin-dir", default=None, help="Terraform provider mirror (default: found as usual)")
    parser.add_argument("--kubernetes-version", default=kubernetes.DEFAULT_VERSION)
    args = parser.parse_args()
    counts = {language: args.per_language for language in DEFAULT_COUNTS} if args.per_language else DEFAULT_COUNTS
    samples = load_samples(counts)
    report = {"what": "validator throughput per tool family: one batched run vs one run per sample, same samples",
              "date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
              "tool_versions": toolchain.tool_versions(),
              "samples_by_language": dict(Counter(s.language for s in samples)), "families": {}}
    started = time.perf_counter()
    for family, (language, run) in toolchain.families(args.plugin_dir, args.kubernetes_version).items():
        group = samples if language is None else [s for s in samples if s.language == language]
        if group:
            report["families"][family] = measure_family(run, group)
            shown = {k: v for k, v in report["families"][family].items() if k not in ("tools", "disagreements")}
            print(family, json.dumps(shown), flush=True)
    measured = [f for f in report["families"].values() if f["ran"]]
    batched_s, alone_s = sum(f["batched_s"] for f in measured), sum(f["one_by_one_s"] for f in measured)
    report["check_all"] = {"samples": len(samples), "batched_s": round(batched_s, 3), "one_by_one_s": round(alone_s, 3),
                           "batched_samples_per_s": _rate(len(samples), batched_s),
                           "one_by_one_samples_per_s": _rate(len(samples), alone_s),
                           "speedup": round(alone_s / batched_s, 2) if batched_s else None,
                           "note": "sums of the families that ran (check_all runs them one after another)"}
    report["disagreements"] = sum(len(f["disagreements"]) for f in report["families"].values())
    report["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("check_all", json.dumps(report["check_all"]), "disagreements", report["disagreements"])
    if report["disagreements"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
