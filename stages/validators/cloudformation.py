"""CloudFormation: cfn-lint over all templates in one run, JSON output. Its exit code is a bitmask
(2 error, 4 warning, 8 informational); the per-finding `Level` says the same per template."""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from stages.validators import Check, Sample, scrubbed_env, write_samples

# A template may switch cfn-lint rules off in its own Metadata; generated code must not silence its checker.
_SILENCED = re.compile(r"cfn-lint[\"']?\s*:.*?(ignore_checks|ignore_reasons)", re.DOTALL)


def check(samples: list[Sample]) -> dict[str, list[Check]]:
    if not samples:
        return {}
    with tempfile.TemporaryDirectory(prefix="qwen-iac-cfn-") as tmp:
        directories = write_samples(Path(tmp), samples)
        files = [path for directory in directories.values() for path in sorted(directory.rglob("*")) if path.is_file()]
        cfn_lint = Path(sys.executable).with_name("cfn-lint")  # the console script of this environment
        result = subprocess.run([str(cfn_lint), "--format", "json", *map(str, files)],
                                capture_output=True, text=True, env=scrubbed_env(), timeout=900)
        if result.returncode & 1 or not result.stdout.strip():  # bit 1: cfn-lint itself failed
            raise RuntimeError(f"cfn-lint failed to run: {result.stderr.strip()[:500]}")
        findings = json.loads(result.stdout)
        samples_by_id = {sample.id: sample for sample in samples}
        results = {}
        for sample_id, directory in directories.items():
            mine = [f for f in findings if Path(f["Filename"]).resolve().is_relative_to(directory.resolve())]
            errors = [_describe(f) for f in mine if f["Level"] == "Error"]
            warnings = [_describe(f) for f in mine if f["Level"] == "Warning"]
            if any(_SILENCED.search(text) for text in samples_by_id[sample_id].files.values()):
                errors.append("the template's Metadata configures cfn-lint to ignore rules")
            results[sample_id] = [Check.from_problems("cfn-lint errors", errors),
                                  Check.from_problems("cfn-lint warnings", warnings)]
    return results


def _describe(finding: dict) -> str:
    line = finding.get("Location", {}).get("Start", {}).get("LineNumber")
    return f"{finding['Rule']['Id']} line {line}: {finding['Message']}"
