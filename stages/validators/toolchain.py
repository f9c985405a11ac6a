"""Every applicable validator over a set of samples, grouped by language so each tool runs once."""

import subprocess
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, version

from stages.validators import Check, Sample, checkov, cloudformation, helm, kubernetes, pulumi, scrubbed_env, terraform


def check_all(samples: list[Sample], plugin_dir: str | None = None,
              kubernetes_version: str = kubernetes.DEFAULT_VERSION) -> dict[str, list[Check]]:
    by_language: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_language[sample.language].append(sample)
    results: dict[str, list[Check]] = {sample.id: [] for sample in samples}
    partial = [
        terraform.check(by_language["terraform"], plugin_dir),
        cloudformation.check(by_language["cloudformation"]),
        kubernetes.check(by_language["kubernetes"], kubernetes_version),
        helm.check(by_language["helm"], kubernetes_version),
        pulumi.check(by_language["pulumi"]),
        checkov.check(samples),
    ]
    for part in partial:
        for sample_id, checks in part.items():
            results[sample_id] += checks
    for sample in samples:
        if not results[sample.id]:
            results[sample.id].append(Check("language", "fail", f"no validator for language {sample.language!r}"))
    return results


def tool_versions() -> dict[str, str]:
    """What checked the samples, for data cards and training logs."""
    versions = {}
    for package in ("python-hcl2", "cfn-lint", "kubernetes-validate", "yamllint"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    terraform_binary = terraform.binary()
    if terraform_binary:
        printed = subprocess.run([terraform_binary, "version"], capture_output=True, text=True,
                                 env=scrubbed_env(CHECKPOINT_DISABLE="1")).stdout.splitlines()
        versions["terraform"] = printed[0] if printed else "unknown version"
    else:
        versions["terraform"] = "not installed"
    mirror = terraform.find_plugin_dir()
    versions["terraform provider mirror"] = (
        ", ".join(sorted(f"{p} {v.name}" for p in terraform.mirrored_providers(mirror)
                         for v in (mirror / "registry.terraform.io" / p).iterdir())) if mirror else "none")
    checkov_binary = checkov.binary()
    versions["checkov"] = (subprocess.run([str(checkov_binary), "--version"], capture_output=True, text=True,
                                          env=scrubbed_env(CKV_SKIP_PACKAGE_UPDATE_CHECK="true")).stdout.strip()
                           or "unknown version") if checkov_binary else "not installed"
    helm_binary = helm.shutil.which("helm")
    versions["helm"] = (subprocess.run([helm_binary, "version", "--short"], capture_output=True, text=True)
                        .stdout.strip() or "unknown version") if helm_binary else "not installed"
    return versions
