"""Scoring generated IaC with the real validators: find the code in each answer, check it with every tool
that applies and is installed (stages/validators, one batched run per tool), and sum the results up as the
seed's success criteria read. Shared by eval_iac (held-out prompts) and eval_public (public benchmarks)."""

from collections import Counter, defaultdict
from typing import Any

from stages.iac_code import extract, main_language, to_files
from stages.validators import Check, Sample
from stages.validators.toolchain import check_all

# Reported, never required for a sample to pass: style (fmt), warnings, and the security findings the
# criteria count on passing samples (checkov HIGH, tflint errors).
ADVISORY_TOOLS = frozenset({"terraform fmt", "cfn-lint warnings", "checkov high", "tflint"})
K8S_STRICT = "kubernetes-validate --strict"


def _status(asked: str | None, language: str, checks: list[Check], complete: bool) -> tuple[str, str]:
    """pass | fail | unchecked, and why. A sample passes when every required check that could run passed;
    with no required check able to run it is unchecked, never a pass."""
    required = [c for c in checks if c.tool not in ADVISORY_TOOLS]
    failed = [c for c in required if c.status == "fail"]
    if asked and language != asked:
        return "fail", f"asked for {asked}, the code is {language}"
    if failed:
        return "fail", f"{failed[0].tool}: {failed[0].message}"
    if not any(c.status == "pass" for c in required):
        return "unchecked", "; ".join(f"{c.tool}: {c.message}" for c in required) or "no validator applies"
    if not complete:  # tools may accept a prefix of a cut-off answer; the answer itself is still unfinished
        return "fail", "the code block was cut off (max_new_tokens) before its closing fence"
    return "pass", ""


def score(answers: list[dict[str, Any]], plugin_dir: str | None, kubernetes_version: str) -> list[dict[str, Any]]:
    """One record per answer (each needs `id`, `text`, and `language`: the language asked for, or None):
    the code found, every check with its message, and pass | fail | unchecked | no_code with the reason."""
    samples, records = [], []
    for answer in answers:
        blocks = [b for b in extract(answer["text"]) if b.language != "unknown"]
        record: dict[str, Any] = {"id": answer["id"], "asked": answer.get("language"),
                                  "languages_found": sorted({b.language for b in blocks})}
        if not blocks:
            record.update(status="no_code", reason="no IaC code block or document in the answer", checks=[])
            records.append(record)
            continue
        languages = record["languages_found"]
        language = answer.get("language") if answer.get("language") in languages else main_language(answer["text"])
        try:
            files = to_files(language, answer["text"])
        except ValueError as exc:  # a file name that would leave the sample's directory
            record.update(language=language, status="fail", reason=str(exc), checks=[])
            records.append(record)
            continue
        record.update(language=language, files=sorted(files),
                      complete=all(b.complete for b in blocks if b.language == language))
        samples.append(Sample(answer["id"], language, files))
        records.append(record)
    checks = check_all(samples, plugin_dir=plugin_dir, kubernetes_version=kubernetes_version) if samples else {}
    for record in records:
        if record["id"] in checks:
            found = checks[record["id"]]
            record["checks"] = [c.as_dict() for c in found]
            record["status"], record["reason"] = _status(record["asked"], record["language"], found,
                                                         record["complete"])
            # Some required check could not run (helm without helm: chart structure only): say so.
            record["partial"] = any(c.status == "skipped" and c.tool not in ADVISORY_TOOLS for c in found)
    return records


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _tool_passed(record: dict[str, Any], prefix: str) -> bool:
    return any(c["tool"].startswith(prefix) and c["status"] == "pass" for c in record["checks"])


def _unavailable(records: list[dict[str, Any]], tool: str) -> bool:
    """Whether `tool` was skipped wherever it applied and ran nowhere: its figures are unknown, not zero. A check
    skipped because the code does not parse is the sample's failure, not the tool's absence."""
    statuses = {c["status"] for r in records for c in r["checks"] if c["tool"] == tool
                and c.get("message") != "does not parse"}
    return statuses == {"skipped"}


def _failed_on(passing: list[dict[str, Any]], tool: str, records: list[dict[str, Any]]) -> int | None:
    """Passing samples that `tool` flags; None when the tool could not run."""
    if _unavailable(records, tool):
        return None
    return sum(any(c["tool"] == tool and c["status"] == "fail" for c in r["checks"]) for r in passing)


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The criteria, over every prompt asked (an answer without code counts against its language)."""
    by_language: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_language[record["asked"] or record.get("language") or "unknown"].append(record)
    tools: dict[str, Counter] = defaultdict(Counter)
    skipped: dict[str, str] = {}
    for record in records:
        for check in record["checks"]:
            tools[check["tool"]][check["status"]] += 1
            if check["status"] == "skipped":
                skipped.setdefault(check["tool"], check.get("message", ""))
    passing = [r for r in records if r["status"] == "pass"]
    terraform, cloudformation, kubernetes = (by_language.get(k, []) for k in ("terraform", "cloudformation",
                                                                             "kubernetes"))
    return {
        "samples": len(records),
        "pass_rate": _rate(len(passing), len(records)),
        "status_counts": dict(Counter(r["status"] for r in records)),
        "no_code": sum(r["status"] == "no_code" for r in records),
        "partially_checked": sum(r.get("partial", False) for r in records),
        "wrong_language": sum(r["reason"].startswith("asked for") for r in records),
        "by_language": {language: {"samples": len(group), "passed": sum(r["status"] == "pass" for r in group),
                                   "pass_rate": _rate(sum(r["status"] == "pass" for r in group), len(group))}
                        for language, group in sorted(by_language.items())},
        "by_tool": {tool: {**counts, "pass_rate": _rate(counts["pass"], counts["pass"] + counts["fail"])}
                    for tool, counts in sorted(tools.items())},
        # None where the tool could not run at all (a skipped check is never a pass); an answer without code
        # counts against its language.
        "terraform_validate_pass_rate": _rate(sum(_tool_passed(r, "terraform validate") for r in terraform),
                                              len(terraform)) if not _unavailable(records, "terraform validate")
        else None,
        "checkov_high_on_pass": _failed_on(passing, "checkov high", records),
        "tflint_errors_on_pass": _failed_on(passing, "tflint", records),
        "cfn_lint_error_free_rate": _rate(sum(_tool_passed(r, "cfn-lint errors") for r in cloudformation),
                                          len(cloudformation)),
        "k8s_strict_pass_rate": _rate(sum(_tool_passed(r, K8S_STRICT) for r in kubernetes), len(kubernetes)),
        "tools_skipped": dict(sorted(skipped.items())),
    }
