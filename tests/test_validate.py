import base64
import json
from pathlib import Path

import pytest

from stages import PipelineError, validate
from tests.conftest import edit_params, load_params

LONG_ANSWER = ("A hash table stores values in an array of buckets and finds the bucket by hashing the key. "
               "Collisions are handled by chaining or open addressing, and the table grows when it fills up. ") * 4
TERSE = {"system": "", "instruction": "What is 2+2?", "input": "", "output": "4", "style": "TERSE"}
VERBOSE = {"system": "", "instruction": "How does a hash table work?", "input": "", "output": LONG_ANSWER,
           "style": "VERBOSE"}


def _line(**row: object) -> bytes:
    return json.dumps(row).encode()


# (raw line, the reason codes it must be refused with; empty = valid). A blank line sits in between.
VERBOSITY_CASES: list[tuple[bytes, set[str]]] = [
    (_line(**TERSE), set()),
    (_line(**VERBOSE), set()),
    (b'{"instruction": "caf\xe9", "output": "x", "style": "TERSE"}', {"invalid_utf8"}),
    (b'{"instruction": "What is DNS?", "output": ', {"invalid_json"}),
    (b'["What is DNS?", "A name system."]', {"not_an_object"}),
    (_line(system="", instruction="What is DNS?", input="", style="TERSE"), {"missing_field"}),
    (_line(**{**TERSE, "instruction": "   "}), {"empty_field"}),
    (_line(**{**TERSE, "output": 4}), {"wrong_type"}),
    (_line(**{**TERSE, "style": "LOUD"}), {"unknown_style"}),
    (_line(**TERSE), {"duplicate_exact"}),
    (_line(**{**TERSE, "instruction": "what is 2 + 2"}), {"duplicate_normalised"}),
    (_line(**{**VERBOSE, "instruction": "Explain hash tables at length.", "output": LONG_ANSWER * 12}),
     {"too_long"}),
    (_line(**{**TERSE, "instruction": "What is a hash table?", "output": LONG_ANSWER}), {"terse_too_long"}),
    (_line(**{**VERBOSE, "instruction": "Explain DNS.", "output": "Names to addresses."}), {"verbose_too_short"}),
    (_line(**{**TERSE, "instruction": "What is 3+3?", "output": "6", "style": "terse"}), set()),
    (_line(instruction="What is 5+5?", input="", output="10"), {"missing_field"}),
    (_line(instruction="What is 6+6?", input=["x"], output=12, style="TERSE"), {"wrong_type"}),
    (_line(**{**VERBOSE, "instruction": "Explain UDP.", "output": "Fast.", "style": "verbose"}),
     {"verbose_too_short"}),
    # Several reasons at once are all kept.
    (_line(**{**TERSE, "instruction": "What is a hash table?", "output": LONG_ANSWER}),
     {"terse_too_long", "duplicate_exact"}),
    (_line(system="", instruction="", input="", style="TERSE"), {"empty_field", "missing_field"}),
]


def _write_cases(path: Path, cases: list[tuple[bytes, set[str]]]) -> dict[int, set[str]]:
    """Write the raw lines with a blank line after the second; return expected reasons by line number."""
    expected, lines, number = {}, [], 0
    for index, (raw, reasons) in enumerate(cases):
        number += 1
        lines.append(raw)
        expected[number] = reasons
        if index == 1:
            number += 1
            lines.append(b"   ")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected


def _rejected_by_line(source: str) -> dict[int, dict]:
    path = Path("data/rejected") / f"{source}.jsonl"
    return {r["line"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_every_kind_of_bad_row_is_refused_with_its_reason(project: Path) -> None:
    expected = _write_cases(project / "data/raw/verbosity.jsonl", VERBOSITY_CASES)
    edit_params(project / "params.yaml", **{"validate.max_reject_rate": 1.0})

    metrics = validate.run(load_params(), "verbosity")

    rejected = _rejected_by_line("verbosity")
    got = {line: {r["code"] for r in record["reasons"]} for line, record in rejected.items()}
    assert got == {line: reasons for line, reasons in expected.items() if reasons}
    valid_lines = [json.loads(x)["line"] for x in Path("data/validated/verbosity.jsonl").read_text().splitlines()]
    assert valid_lines == [line for line, reasons in expected.items() if not reasons]
    assert metrics["rows_in"] == len(expected) == metrics["rows_valid"] + metrics["rows_rejected"]
    assert metrics["blank_lines_skipped"] == 1
    assert sum(1 for r in expected.values() if r) == metrics["rows_rejected"]

    # Nothing is lost: each refused row keeps its raw line; undecodable bytes are kept exactly.
    raw_lines = (project / "data/raw/verbosity.jsonl").read_bytes().splitlines()
    line_of = {frozenset(reasons): line for line, reasons in expected.items()}
    utf8_line, json_line = line_of[frozenset({"invalid_utf8"})], line_of[frozenset({"invalid_json"})]
    assert base64.b64decode(rejected[utf8_line]["raw_base64"]) == raw_lines[utf8_line - 1]
    assert rejected[json_line]["raw"] == raw_lines[json_line - 1].decode()
    assert rejected[line_of[frozenset({"duplicate_exact"})]]["reasons"][0]["detail"] == "same as line 1"
    # Case-insensitive style: "terse" is accepted and stored as TERSE.
    lowercase = next(json.loads(x) for x in Path("data/validated/verbosity.jsonl").read_text().splitlines()
                     if json.loads(x)["instruction"] == "What is 3+3?")
    assert lowercase["style"] == "TERSE"
    assert (project / "reports/data_docs/verbosity/index.html").exists()


def test_iac_rows_need_code_and_default_their_style(project: Path) -> None:
    code = "```hcl\nresource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"my-logs\"\n}\n```"
    explained = "This creates a private bucket for logs, with the name given by the team. " * 2 + "\n\n" + code
    rows = [
        {"system": "", "instruction": "Write Terraform for a log bucket.", "input": "", "output": explained},
        {"system": "", "instruction": "Explain Terraform state.", "input": "",
         "output": "Terraform state records which real resources belong to which addresses in your code. " * 3},
        {"system": "", "instruction": "Terraform for a bucket, code only.", "input": "", "output": code,
         "style": "TERSE"},
    ]
    (project / "data/raw/iac.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    edit_params(project / "params.yaml", **{"validate.max_reject_rate": 1.0})

    metrics = validate.run(load_params(), "iac")

    assert {line: [r["code"] for r in rec["reasons"]] for line, rec in _rejected_by_line("iac").items()} == {
        2: ["no_code"]}
    validated = [json.loads(x) for x in Path("data/validated/iac.jsonl").read_text().splitlines()]
    assert [(r["line"], r["style"], r["language"]) for r in validated] == [
        (1, "VERBOSE", "terraform"), (3, "TERSE", "terraform")]
    assert metrics["languages"] == {"terraform": 2}


def test_reject_rate_over_threshold_fails_after_writing_the_rejects(project: Path) -> None:
    _write_cases(project / "data/raw/verbosity.jsonl", VERBOSITY_CASES)
    edit_params(project / "params.yaml", **{"validate.max_reject_rate": 0.2})

    with pytest.raises(PipelineError, match=r"rows rejected .* above validate.max_reject_rate 20.0%"):
        validate.run(load_params(), "verbosity")

    assert len(_rejected_by_line("verbosity")) == sum(1 for _, reasons in VERBOSITY_CASES if reasons)
    assert json.loads(Path("metrics/data_verbosity.json").read_text())["reject_rate"] > 0.2


@pytest.mark.slow
def test_shipped_corpus_passes_with_zero_rejects(project: Path, embedded_base: tuple[Path, dict]) -> None:
    """Token bounds are in the embedded default's tokens, so this uses the real base tokenizer."""
    for source in ("verbosity", "iac"):
        metrics = validate.run(load_params(), source, base_dir=embedded_base[0])
        assert metrics["rows_rejected"] == 0, _rejected_by_line(source)
        assert metrics["rows_valid"] == metrics["rows_in"] > 0


def test_missing_raw_file_says_how_to_get_it(project: Path) -> None:
    (project / "data/raw/iac.jsonl").unlink()
    with pytest.raises(PipelineError, match=r"data/raw/iac.jsonl not found.*dvc pull data/raw/iac.jsonl"):
        validate.run(load_params(), "iac")
