"""Build the shipped sample corpus, byte for byte from a seed:

    python -m corpus.build            # check every IaC output, then write data/raw/{verbosity,iac}.jsonl
    python -m corpus.build --no-check # write only (the checks take a few minutes)

Verbosity rows: the hand-written starter rows, the authored concept tables (every phrasing in both
styles) and generated arithmetic. IaC rows: the hand-written starter rows and the generator modules in
corpus/iac/. Every IaC output is run through the project's validators; the per-example results go to
corpus/checks.jsonl, the counts into data/README.md; if any check fails the build writes nothing and exits 1."""

import argparse
import hashlib
import importlib
import json
import pkgutil
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from corpus.verbosity import arithmetic
from stages.chat import IAC_SYSTEM_PROMPT
from stages.iac_code import main_language, to_files
from stages.rows import write_jsonl
from stages.validators.toolchain import tool_versions

SEED = 20261126
ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
CARD = ROOT / "data" / "README.md"
CARD_START, CARD_END = "<!-- counts:start (written by corpus/build.py) -->", "<!-- counts:end -->"
Row = dict[str, Any]


def _read(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rng(name: str) -> random.Random:
    """One generator per source, so adding a module never changes what another one produces."""
    return random.Random(f"{SEED}:{name}")


def verbosity_rows() -> list[Row]:
    rows = _read(CORPUS / "authored" / "verbosity.jsonl")
    for table in sorted((CORPUS / "verbosity").glob("concepts_*.yaml")):
        for concept in yaml.safe_load(table.read_text(encoding="utf-8")):
            for phrasing in concept["phrasings"]:
                for style in ("TERSE", "VERBOSE"):
                    rows.append({"system": "", "instruction": phrasing, "input": "",
                                 "output": concept[style.lower()].strip(), "style": style})
    return rows + arithmetic.rows(_rng("arithmetic"))


def iac_examples() -> list[tuple[Row, str]]:
    """(raw row, provider) pairs: the authored rows first, then each generator module in name order."""
    examples = [(row, _provider(main_language(row["output"]), row["output"]))
                for row in _read(CORPUS / "authored" / "iac.jsonl")]
    package = importlib.import_module("corpus.iac")
    for module_info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):  # shared helpers of the generator modules
            continue
        module = importlib.import_module(f"corpus.iac.{module_info.name}")
        for example in module.examples(_rng(module_info.name)):
            row = {"system": IAC_SYSTEM_PROMPT, "instruction": example["instruction"], "input": example["input"],
                   "output": example["output"], "style": example["style"]}
            examples.append((row, example["provider"]))
    return examples


def _provider(language: str, output: str) -> str:
    if language in ("kubernetes", "helm"):
        return "kubernetes"
    for prefix, provider in (("google", "gcp"), ("azurerm", "azure"), ("azure", "azure"), ("gcp", "gcp")):
        if f"{prefix}_" in output or f"{prefix}." in output or f"pulumi_{prefix}" in output:
            return provider
    return "aws"


def check(rows: list[Row]) -> list[Row]:
    from stages.validators import Sample
    from stages.validators.toolchain import check_all

    samples = []
    for line, row in enumerate(rows, start=1):
        language = main_language(row["output"])
        samples.append(Sample(f"iac:{line}", language, to_files(language, row["output"])))
    results = check_all(samples)
    return [{"line": line, "language": sample.language,
             "sha256": hashlib.sha256(row["output"].encode()).hexdigest(),
             "checks": [c.as_dict() for c in results[sample.id]]}
            for line, (row, sample) in enumerate(zip(rows, samples, strict=True), start=1)]


def counts_table(verbosity: list[Row], iac: list[tuple[Row, str]], checks: list[Row]) -> str:
    by_style = Counter(row["style"] for row in verbosity)
    iac_counts = Counter((main_language(row["output"]), provider, row.get("style", "VERBOSE")) for row, provider in iac)
    lines = [CARD_START, "", f"`verbosity.jsonl`: **{len(verbosity)}** rows — TERSE {by_style['TERSE']}, "
             f"VERBOSE {by_style['VERBOSE']}.", "", f"`iac.jsonl`: **{len(iac)}** rows.", "",
             "| language | provider | TERSE | VERBOSE | total |", "|---|---|---|---|---|"]
    for language, provider in sorted({(lang, prov) for lang, prov, _ in iac_counts}):
        terse, verbose = iac_counts[(language, provider, "TERSE")], iac_counts[(language, provider, "VERBOSE")]
        lines.append(f"| {language} | {provider} | {terse} | {verbose} | {terse + verbose} |")
    versions = tool_versions()
    tool_status = Counter((c["tool"], c["status"]) for row in checks for c in row["checks"])
    lines += ["", "Checks run on every IaC output when the corpus was built (`corpus/checks.jsonl`):", "",
              "| check | pass | fail | skipped |", "|---|---|---|---|"]
    for tool in sorted({tool for tool, _ in tool_status}):
        lines.append(f"| {tool} | {tool_status[(tool, 'pass')]} | {tool_status[(tool, 'fail')]} | "
                     f"{tool_status[(tool, 'skipped')]} |")
    lines += ["", "Tool versions: " + "; ".join(f"{name} {value}" for name, value in versions.items()) + "."]
    return "\n".join([*lines, "", CARD_END])


def write_card(table: str) -> None:
    text = CARD.read_text(encoding="utf-8")
    before, rest = text.split(CARD_START, 1)
    after = rest.split(CARD_END, 1)[1]
    CARD.write_text(before + table + after, encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m corpus.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-check", action="store_true", help="write the files without running the validators")
    args = parser.parse_args(argv)
    verbosity = verbosity_rows()
    iac = iac_examples()
    iac_rows = [row for row, _ in iac]
    if not args.no_check:
        checks = check(iac_rows)
        failed = [(row["line"], c) for row in checks for c in row["checks"] if c["status"] == "fail"]
        for line, failure in failed:
            print(f"iac row {line}: {failure['tool']}: {failure.get('message', '')}", file=sys.stderr)
        print(f"checks: {len(checks)} examples, {len(failed)} failed checks")
        if failed:  # nothing broken ships: the files on disk stay as they were
            return 1
        write_jsonl(CORPUS / "checks.jsonl", checks)
        write_card(counts_table(verbosity, iac, checks))
    write_jsonl(ROOT / "data/raw/verbosity.jsonl", verbosity)
    write_jsonl(ROOT / "data/raw/iac.jsonl", iac_rows)
    print(f"wrote {len(verbosity)} verbosity rows and {len(iac)} IaC rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
