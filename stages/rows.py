"""The raw-row schema (the seed's fields), its structural checks, text normalisation, and JSONL I/O."""

import base64
import json
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stages import PipelineError

REQUIRED_TEXT = ("instruction", "output")
OPTIONAL_TEXT = ("system", "input")
FIELDS = ("system", "instruction", "input", "output", "style")


@dataclass
class Reason:
    code: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass
class RawLine:
    """One non-blank line of a raw file, and what the structural checks made of it."""

    line: int
    raw: bytes
    row: dict[str, Any] | None = None
    reasons: list[Reason] = field(default_factory=list)

    def rejected_record(self, source: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "source": source,
            "line": self.line,
            "raw": self.raw.decode("utf-8", errors="backslashreplace"),
            "reasons": [r.as_dict() for r in self.reasons],
        }
        try:
            self.raw.decode("utf-8")
        except UnicodeDecodeError:  # keep the exact bytes too: nothing is lost
            record["raw_base64"] = base64.b64encode(self.raw).decode("ascii")
        return record


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def check_structure(raw: bytes, line: int, default_style: str | None) -> RawLine:
    """Decode and parse one line and check the fields' presence and types. Content rules (style
    values, lengths, duplicates, code) are great-expectations' job in `expectations.py`."""
    item = RawLine(line=line, raw=raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        item.reasons.append(Reason("invalid_utf8", f"byte {exc.start}: {exc.reason}"))
        return item
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        item.reasons.append(Reason("invalid_json", f"{exc.msg} at column {exc.colno}"))
        return item
    if not isinstance(value, dict):
        item.reasons.append(Reason("not_an_object", f"a JSON {_type_name(value)}, expected an object"))
        return item

    for name in REQUIRED_TEXT:
        if name not in value:
            item.reasons.append(Reason("missing_field", f"'{name}' is required"))
        elif not isinstance(value[name], str):
            item.reasons.append(Reason("wrong_type", f"'{name}' is {_type_name(value[name])}, expected string"))
        elif not value[name].strip():
            item.reasons.append(Reason("empty_field", f"'{name}' is empty"))
    for name in OPTIONAL_TEXT:
        if name in value and not isinstance(value[name], str):
            item.reasons.append(Reason("wrong_type", f"'{name}' is {_type_name(value[name])}, expected string"))
    style = value.get("style") if value.get("style") is not None else default_style
    if style is None:
        item.reasons.append(Reason("missing_field", "'style' is required (no default_style for this source)"))
    elif not isinstance(style, str):
        item.reasons.append(Reason("wrong_type", f"'style' is {_type_name(style)}, expected string"))
    if item.reasons:
        return item

    row = {name: value.get(name, "") for name in FIELDS}
    row["style"] = style.strip().upper()  # case-insensitive; unknown values are refused downstream
    extras = {k: v for k, v in value.items() if k not in FIELDS}
    if extras:  # a user's own metadata travels with the row
        row["extra"] = extras
    item.row = row
    return item


def read_raw_lines(path: Path) -> tuple[list[tuple[int, bytes]], int]:
    """Non-blank lines with their 1-based numbers, and how many blank lines were skipped."""
    if not path.exists():
        raise PipelineError(
            f"raw file {path} not found. If it is tracked by DVC, fetch it with `dvc pull {path}`; "
            "otherwise put your JSONL there or change its path in params.yaml (validate.sources)."
        )
    lines, blank = [], 0
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if raw.strip():
            lines.append((number, raw))
        else:
            blank += 1
    return lines, blank


_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Case, Unicode form, punctuation and spacing removed: what two near-identical texts share."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", text)).strip()


def shingles(text: str, size: int = 5) -> frozenset[str]:
    """Character n-grams of the normalised text; a text shorter than n is its own single shingle."""
    text = normalise(text)
    if len(text) <= size:
        return frozenset([text])
    return frozenset(text[i : i + size] for i in range(len(text) - size + 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets: 1.0 for texts equal after normalisation."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def near_duplicate_pairs(left: list[str], right: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """(i, j, similarity) for every left[i], right[j] at or above the threshold. Jaccard >= t needs the
    smaller shingle set to be at least t times the larger, which skips most pairs unexamined."""
    right_sets = sorted(((len(grams), j, grams) for j, grams in enumerate(map(shingles, right))),
                        key=lambda entry: entry[0])
    sizes = [size for size, _, _ in right_sets]
    pairs = []
    for i, grams in enumerate(map(shingles, left)):
        low, high = bisect_left(sizes, threshold * len(grams)), bisect_right(sizes, len(grams) / threshold)
        for _, j, other in right_sets[low:high]:
            score = similarity(grams, other)
            if score >= threshold:
                pairs.append((i, j, score))
    return sorted(pairs)


def prompt_text(row: dict[str, Any]) -> str:
    """The user's side of a row, the part an eval prompt must not share with training."""
    return f"{row['instruction']}\n{row['input']}".strip()


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        raise PipelineError(f"{path} not found: run `dvc repro` (or `dvc pull {path}`) first")
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
