"""checkov, from its own virtual environment (.venv-checkov: it conflicts with the main set), one run
over a directory holding every sample. Severities come from the project's map (checkov_severity.yaml)."""

import json
import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import hcl2
import yaml
from cfnlint.decode import decode_str

from stages.validators import Check, Sample, scrubbed_env, write_samples

FRAMEWORKS = {"terraform": "terraform", "cloudformation": "cloudformation", "kubernetes": "kubernetes"}
DEFAULT_BINARY = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"


@cache
def severity_map() -> dict[str, str]:
    table = yaml.safe_load((Path(__file__).parent / "checkov_severity.yaml").read_text())
    return {check_id: level for level, ids in table.items() for check_id in ids}


def binary() -> Path | None:
    configured = Path(os.environ.get("QWEN_IAC_CHECKOV", DEFAULT_BINARY))
    return configured if configured.exists() else None


def severity(check_id: str) -> str:
    return severity_map().get(check_id, "UNMAPPED")


def _readable(sample: Sample) -> bool:
    """Whether the files parse as their language does, so that checkov silence means 'nothing to flag'."""
    try:
        for text in sample.files.values():
            if sample.language == "terraform":
                hcl2.loads(text)
            elif sample.language == "cloudformation":
                if decode_str(text)[0] is None:
                    return False
            elif not all(isinstance(doc, dict) for doc in yaml.safe_load_all(text) if doc is not None):
                return False
    except Exception:  # any parser error means checkov could not have read it either
        return False
    return True


def check(samples: list[Sample]) -> dict[str, list[Check]]:
    samples = [s for s in samples if s.language in FRAMEWORKS]
    checkov = binary()
    if checkov is None:
        return {s.id: [Check("checkov high", "skipped", "checkov venv not built (make setup)")] for s in samples}
    if not samples:
        return {}
    with tempfile.TemporaryDirectory(prefix="qwen-iac-checkov-") as tmp:
        directories = write_samples(Path(tmp), samples)
        frameworks = sorted({FRAMEWORKS[s.language] for s in samples})
        result = subprocess.run([str(checkov), "-d", tmp, "-o", "json", "--compact", "--skip-download",
                                 "--framework", *frameworks], capture_output=True, text=True, timeout=1800,
                                env=scrubbed_env(BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="true"))
        if result.returncode not in (0, 1):
            raise RuntimeError(f"checkov failed to run: {result.stderr.strip()[-500:]}")
        reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    by_directory = {d.name: sample_id for sample_id, d in directories.items()}
    samples_by_id = {sample.id: sample for sample in samples}
    findings: dict[str, list[str]] = {s.id: [] for s in samples}
    scanned: set[str] = set()
    unparsed: set[str] = set()

    def owner(file_path: str) -> str | None:
        return by_directory.get(Path(file_path).relative_to(tmp).parts[0] if file_path.startswith(tmp)
                                else file_path.strip("/").split("/")[0])

    for report in reports:
        results = report.get("results", {})
        # A `#checkov:skip=` comment in generated code must not hide a finding: skipped counts as failed.
        for outcome in ("failed_checks", "skipped_checks", "passed_checks"):
            for entry in results.get(outcome, []):
                sample_id = owner(entry["file_path"])
                if sample_id:
                    scanned.add(sample_id)
                    if outcome != "passed_checks":
                        findings[sample_id].append(entry["check_id"])
        for file_path in results.get("parsing_errors", []):
            sample_id = owner(file_path)
            if sample_id:
                unparsed.add(sample_id)
    checks = {}
    for sample_id, ids in findings.items():
        if sample_id in unparsed:
            checks[sample_id] = [Check("checkov high", "fail", "checkov could not parse it")]
            continue
        if sample_id not in scanned:  # no policy matched: fine for readable code, unchecked otherwise
            checks[sample_id] = [Check("checkov high", "pass", "no checkov policy applies to these resources")
                                 if _readable(samples_by_id[sample_id]) else
                                 Check("checkov high", "skipped", "checkov could not read it")]
            continue
        ids = sorted(set(ids))
        high = [i for i in ids if severity(i) == "HIGH"]
        detail = [f"{i} ({severity(i)})" for i in ids]
        checks[sample_id] = [Check("checkov high", "fail", f"HIGH: {', '.join(high)}", detail) if high else
                             Check("checkov high", "pass", details=detail)]
    return checks
