"""Every applicable validator over a set of samples, grouped by language so each tool runs once."""

import subprocess
from collections import defaultdict
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from stages.validators import (
    Check,
    Sample,
    checkov,
    cloudformation,
    helm,
    kubeconform,
    kubernetes,
    pulumi,
    scrubbed_env,
    terraform,
    tflint,
)

Family = Callable[[list[Sample]], dict[str, list[Check]]]


def families(plugin_dir: str | None = None,
             kubernetes_version: str = kubernetes.DEFAULT_VERSION) -> dict[str, tuple[str | None, Family]]:
    """Tool family -> (the language it checks, None for every sample; its batched check)."""
    return {
        "terraform": ("terraform", lambda s: terraform.check(s, plugin_dir)),
        "tflint": ("terraform", tflint.check),
        "cloudformation": ("cloudformation", cloudformation.check),
        "kubernetes": ("kubernetes", lambda s: kubernetes.check(s, kubernetes_version)),
        "kubeconform": ("kubernetes", lambda s: kubeconform.check(s, kubernetes_version)),
        "helm": ("helm", lambda s: helm.check(s, kubernetes_version)),
        "pulumi": ("pulumi", pulumi.check),
        "checkov": (None, checkov.check),
    }


def check_all(samples: list[Sample], plugin_dir: str | None = None,
              kubernetes_version: str = kubernetes.DEFAULT_VERSION) -> dict[str, list[Check]]:
    by_language: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_language[sample.language].append(sample)
    results: dict[str, list[Check]] = {sample.id: [] for sample in samples}
    for language, run in families(plugin_dir, kubernetes_version).values():
        group = samples if language is None else by_language[language]
        if group:  # an empty batch would still start some tools (terraform fmt over nothing)
            for sample_id, checks in run(group).items():
                results[sample_id] += checks
    for sample in samples:
        if not results[sample.id]:
            results[sample.id].append(Check("language", "fail", f"no validator for language {sample.language!r}"))
    return results


def _printed(command: list[str], **env: str) -> str:
    """The first line a tool prints about itself."""
    lines = subprocess.run(command, capture_output=True, text=True, timeout=120,
                           env=scrubbed_env(**env)).stdout.strip().splitlines()
    return lines[0].strip() if lines else "unknown version"


def tool_versions() -> dict[str, str]:
    """What checked the samples, for data cards and training logs."""
    versions = {}
    for package in ("python-hcl2", "cfn-lint", "kubernetes-validate", "yamllint"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    binaries = {"terraform": (terraform.binary(), ["version"], {"CHECKPOINT_DISABLE": "1"}),
                "checkov": (checkov.binary(), ["--version"], {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}),
                "helm": (helm.shutil.which("helm"), ["version", "--short"], {}),
                "tflint": (tflint.binary(), ["--version"], {"CHECKPOINT_DISABLE": "1"}),
                "kubeconform": (kubeconform.binary(), ["-v"], {})}
    for name, (binary, arguments, env) in binaries.items():
        versions[name] = _printed([str(binary), *arguments], **env) if binary else "not installed"
    mirror = terraform.find_plugin_dir()
    versions["terraform provider mirror"] = (
        ", ".join(sorted(f"{p} {v.name}" for p in terraform.mirrored_providers(mirror)
                         for v in (mirror / "registry.terraform.io" / p).iterdir())) if mirror else "none")
    schemas = kubeconform.schema_location()
    versions["kubeconform schemas"] = str(schemas) if schemas else "none"
    return versions
