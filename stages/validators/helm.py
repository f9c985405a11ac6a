"""Helm charts: chart structure always (Chart.yaml apiVersion v2 with name and version, values.yaml
parses, templates present); `helm lint --strict` and `helm template` piped into the Kubernetes
checks only when helm is installed, otherwise recorded as skipped (the result is then partial)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from stages.validators import Check, Sample, kubernetes, scrubbed_env, write_samples


def structure(sample: Sample) -> Check:
    problems = []
    try:
        chart = yaml.safe_load(sample.files.get("Chart.yaml", "")) or {}
    except yaml.YAMLError as exc:
        chart, problems = {}, [f"Chart.yaml does not parse: {str(exc).splitlines()[0]}"]
    if "Chart.yaml" not in sample.files:
        problems.append("no Chart.yaml")
    elif not isinstance(chart, dict):
        problems.append("Chart.yaml is not a mapping")
    else:
        if chart.get("apiVersion") != "v2":
            problems.append("Chart.yaml apiVersion is not v2")
        problems += [f"Chart.yaml has no {key}" for key in ("name", "version") if not chart.get(key)]
    if "values.yaml" in sample.files:
        try:
            yaml.safe_load(sample.files["values.yaml"])
        except yaml.YAMLError as exc:
            problems.append(f"values.yaml does not parse: {str(exc).splitlines()[0]}")
    if not any(name.startswith("templates/") for name in sample.files):
        problems.append("no templates/")
    return Check.from_problems("helm chart structure", problems)


def check(samples: list[Sample], kubernetes_version: str = kubernetes.DEFAULT_VERSION) -> dict[str, list[Check]]:
    results = {sample.id: [structure(sample)] for sample in samples}
    helm = shutil.which("helm")
    if helm is None:
        for sample in samples:
            results[sample.id] += [Check("helm lint", "skipped", "helm not installed"),
                                   Check("helm template + kubernetes", "skipped", "helm not installed")]
        return results
    with tempfile.TemporaryDirectory(prefix="qwen-iac-helm-") as tmp:
        directories = write_samples(Path(tmp), samples)
        for sample in samples:
            directory = directories[sample.id]
            lint = subprocess.run([helm, "lint", "--strict", str(directory)], capture_output=True, text=True,
                                  env=scrubbed_env(), timeout=120)
            results[sample.id].append(Check("helm lint", "pass") if lint.returncode == 0 else
                                      Check("helm lint", "fail", lint.stdout.strip()[-300:]))
            rendered = subprocess.run([helm, "template", "sample", str(directory)], capture_output=True, text=True,
                                      env=scrubbed_env(), timeout=120)
            if rendered.returncode != 0:
                results[sample.id].append(Check("helm template + kubernetes", "fail", rendered.stderr.strip()[:300]))
                continue
            manifest = Sample(sample.id, "kubernetes", {"rendered.yaml": rendered.stdout})
            strict = kubernetes.strict_validate(manifest, kubernetes_version)
            results[sample.id].append(Check("helm template + kubernetes", strict.status, strict.message,
                                            strict.details))
    return results
