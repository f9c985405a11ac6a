"""checkov, from its own virtual environment (.venv-checkov: it conflicts with the main set), one run
over a directory holding every sample. Severities come from the project's map (checkov_severity.yaml)."""

import json
import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import yaml

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


def check(samples: list[Sample]) -> dict[str, list[Check]]:
    samples = [s for s in samples if s.language in FRAMEWORKS]
    checkov = binary()
    if checkov is None:
        return {s.id: [Check("checkov", "skipped", "checkov venv not built (make setup)")] for s in samples}
    if not samples:
        return {}
    with tempfile.TemporaryDirectory(prefix="qwen-iac-checkov-") as tmp:
        directories = write_samples(Path(tmp), samples)
        frameworks = sorted({FRAMEWORKS[s.language] for s in samples})
        result = subprocess.run([str(checkov), "-d", tmp, "-o", "json", "--quiet", "--compact", "--skip-download",
                                 "--framework", *frameworks], capture_output=True, text=True,
                                env=scrubbed_env(BC_SKIP_MAPPING="TRUE"), timeout=1800)
        if result.returncode not in (0, 1):
            raise RuntimeError(f"checkov failed to run: {result.stderr.strip()[-500:]}")
        reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    findings: dict[str, list[str]] = {s.id: [] for s in samples}
    by_directory = {d.name: sample_id for sample_id, d in directories.items()}
    for report in reports:
        for failed in report.get("results", {}).get("failed_checks", []):
            directory = failed["file_path"].strip("/").split("/")[0]
            if directory in by_directory:
                findings[by_directory[directory]].append(failed["check_id"])
    results = {}
    for sample_id, ids in findings.items():
        ids = sorted(set(ids))
        high = [i for i in ids if severity(i) == "HIGH"]
        detail = [f"{i} ({severity(i)})" for i in ids]
        results[sample_id] = [
            Check("checkov high", "fail", f"HIGH: {', '.join(high)}", detail) if high else
            Check("checkov high", "pass", details=detail)
        ]
    return results
