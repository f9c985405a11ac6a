"""Stage `validate`: raw JSONL of one source -> validated rows, rejected rows with every reason,
metrics and great-expectations Data Docs. rows_in == rows_valid + rows_rejected, always."""

import json
from pathlib import Path
from statistics import mean, median
from typing import Any

import pandas as pd
from rich.console import Console
from transformers import AutoTokenizer

from stages import PipelineError, expectations, rows
from stages.chat import conversation_tokens, require_chat_template, text_tokens
from stages.iac_code import extract, main_language
from stages.params import Params

DETAIL = {  # reason code -> its message, from the row's feature values and the source's limits
    "unknown_style": lambda row, limits: f"style {row['style']!r} is not TERSE or VERBOSE",
    "duplicate_exact": lambda row, limits: f"same as line {int(row['exact_duplicate_of'])}",
    "duplicate_normalised": lambda row, limits: (
        f"same as line {int(row['normalised_duplicate_of'])} after normalisation"),
    "too_long": lambda row, limits: (
        f"{row['conversation_tokens']} tokens with the chat template > max_length {limits['max_length']}"),
    "terse_too_long": lambda row, limits: (
        f"TERSE output has {row['output_tokens']} tokens > {limits['terse_max_tokens']}"),
    "verbose_too_short": lambda row, limits: (
        f"VERBOSE output has {row['output_tokens']} tokens < {limits['verbose_min_tokens']}"),
    "no_code": lambda row, limits: "the output holds no IaC code (fenced or bare) in a known language",
}


def _features(items: list[rows.RawLine], tokenizer: Any) -> pd.DataFrame:
    """One row per structurally valid line: the columns the expectation suite checks."""
    first_exact: dict[tuple, int] = {}
    first_normalised: dict[tuple, int] = {}
    records = []
    for item in items:
        row = item.row
        exact = tuple(row[f] for f in rows.FIELDS)
        normalised = (row["style"], *(rows.normalise(row[f]) for f in ("instruction", "input", "output")))
        records.append({
            "line": item.line,
            "style": row["style"],
            "exact_duplicate_of": first_exact.setdefault(exact, item.line),
            "normalised_duplicate_of": first_normalised.setdefault(normalised, item.line),
            "conversation_tokens": conversation_tokens(tokenizer, row) if row["style"] in ("TERSE", "VERBOSE") else 0,
            "output_tokens": text_tokens(tokenizer, row["output"]),
            "code_blocks": sum(1 for block in extract(row["output"]) if block.language != "unknown"),
        })
    frame = pd.DataFrame.from_records(records, columns=[
        "line", "style", "exact_duplicate_of", "normalised_duplicate_of",
        "conversation_tokens", "output_tokens", "code_blocks"])
    # A row is its own first occurrence: no duplicate. Exact duplicates are not also reported as normalised ones.
    frame["exact_duplicate_of"] = frame["exact_duplicate_of"].where(frame["exact_duplicate_of"] != frame["line"])
    is_normalised_only = frame["normalised_duplicate_of"] != frame["line"]
    is_normalised_only &= frame["exact_duplicate_of"].isna()
    frame["normalised_duplicate_of"] = frame["normalised_duplicate_of"].where(is_normalised_only)
    return frame.astype({"exact_duplicate_of": "Float64", "normalised_duplicate_of": "Float64"})


def _length_stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {"count": len(values), "mean": round(mean(values), 1), "median": median(values),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], "max": ordered[-1]}


def run(params: Params, source_name: str, base_dir: Path = Path("models/base"),
        root: Path = Path("."), console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    if source_name not in params.validate_.sources:
        raise PipelineError(f"unknown source {source_name!r}; params.yaml defines: "
                            f"{', '.join(params.validate_.sources)}")
    source = params.validate_.sources[source_name]
    max_length = params.train(source.max_length_of).max_length

    if not (base_dir / "tokenizer_config.json").exists():
        raise PipelineError(f"no tokenizer in {base_dir}: run `dvc repro base_model` first")
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    require_chat_template(tokenizer, str(base_dir))

    raw_lines, blank = rows.read_raw_lines(root / source.path)
    items = [rows.check_structure(raw, number, source.default_style) for number, raw in raw_lines]
    structured = [item for item in items if item.row is not None]
    frame = _features(structured, tokenizer)
    checks = expectations.rules(source, max_length)
    failures = expectations.run(source_name, frame, checks, root / "reports" / "data_docs" / source_name)

    limits = {"max_length": max_length, "terse_max_tokens": source.terse_max_tokens,
              "verbose_min_tokens": source.verbose_min_tokens}
    by_line = frame.set_index("line").to_dict("index")
    for item in structured:
        for code in failures.get(item.line, []):
            item.reasons.append(rows.Reason(code, DETAIL[code](by_line[item.line], limits)))

    valid = [item for item in items if not item.reasons]
    rejected = [item for item in items if item.reasons]
    validated_records = []
    for item in valid:
        record = {"id": f"{source_name}:{item.line}", "source": source_name, "line": item.line, **item.row}
        if source.require_code:
            record["language"] = main_language(item.row["output"])
        validated_records.append(record)
    rows.write_jsonl(root / "data" / "validated" / f"{source_name}.jsonl", validated_records)
    rows.write_jsonl(root / "data" / "rejected" / f"{source_name}.jsonl",
                     (item.rejected_record(source_name) for item in rejected))

    rows_in = len(items)
    if rows_in != len(valid) + len(rejected):  # the accounting invariant; cannot fail unless the code is wrong
        raise RuntimeError(f"{source_name}: {rows_in} rows in != {len(valid)} valid + {len(rejected)} rejected")
    reject_rate = len(rejected) / rows_in if rows_in else 0.0
    by_reason: dict[str, int] = {}
    for item in rejected:
        for code in {r.code for r in item.reasons}:
            by_reason[code] = by_reason.get(code, 0) + 1
    valid_lines = {item.line for item in valid}
    valid_frame = frame[frame["line"].isin(valid_lines)]
    metrics = {
        "source": source_name,
        "rows_in": rows_in,
        "rows_valid": len(valid),
        "rows_rejected": len(rejected),
        "reject_rate": round(reject_rate, 4),
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "blank_lines_skipped": blank,
        "tokens_by_style": {
            style: {
                "output": _length_stats(valid_frame.loc[valid_frame["style"] == style, "output_tokens"].tolist()),
                "conversation": _length_stats(
                    valid_frame.loc[valid_frame["style"] == style, "conversation_tokens"].tolist()),
            }
            for style in ("TERSE", "VERBOSE")
        },
    }
    if source.require_code:
        languages: dict[str, int] = {}
        for record in validated_records:
            languages[record["language"]] = languages.get(record["language"], 0) + 1
        metrics["languages"] = dict(sorted(languages.items()))
    metrics_path = root / "metrics" / f"data_{source_name}.json"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")

    console.print(f"[bold]{source_name}[/]: {rows_in} rows in, {len(valid)} valid, {len(rejected)} rejected "
                  f"{metrics['rejected_by_reason'] or ''}")
    if rows_in == 0:
        raise PipelineError(f"{source.path} holds no rows")
    if reject_rate > params.validate_.max_reject_rate:
        raise PipelineError(
            f"{source_name}: {len(rejected)} of {rows_in} rows rejected ({reject_rate:.1%}), above "
            f"validate.max_reject_rate {params.validate_.max_reject_rate:.1%}. The refused rows and their reasons "
            f"are in data/rejected/{source_name}.jsonl; fix the data or raise the threshold."
        )
    return metrics
