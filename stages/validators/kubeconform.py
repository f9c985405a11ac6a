"""kubeconform over many manifests in one run (`-strict -summary -output json`), against the Kubernetes
version kubernetes-validate uses. kubeconform downloads its schemas unless told where they are, so it
runs only with a local schema directory, QWEN_IAC_KUBECONFORM_SCHEMAS, laid out as
yannh/kubernetes-json-schema is (v1.31.0-standalone-strict/deployment-apps-v1.json, ...), and is
skipped otherwise: it never reaches the network. A kind without a schema is a failure, as it is for
kubernetes-validate."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from stages.validators import Check, Sample, scrubbed_env, write_samples

TOOL = "kubeconform"
SCHEMAS_ENV = "QWEN_IAC_KUBECONFORM_SCHEMAS"
_FAILED = {"statusInvalid", "statusError", "INVALID", "ERROR"}  # current names, and those before v0.4


def binary() -> str | None:
    return shutil.which("kubeconform")


def schema_location() -> Path | None:
    """The local schema directory, absolute: never a URL, never kubeconform's `default` (the network)."""
    configured = os.environ.get(SCHEMAS_ENV, "").strip()
    if not configured or "://" in configured:
        return None
    directory = Path(configured).resolve()
    return directory if directory.is_dir() else None


def _skipped(samples: list[Sample], reason: str, *details: str) -> dict[str, list[Check]]:
    return {s.id: [Check(TOOL, "skipped", reason, list(details))] for s in samples}


def check(samples: list[Sample], version: str) -> dict[str, list[Check]]:
    kubeconform, schemas = binary(), schema_location()
    if kubeconform is None:
        return _skipped(samples, "kubeconform not installed")
    version = version.removeprefix("v")
    # The layout kubeconform reads under a directory given as -schema-location, for -strict.
    expected = f"v{version}-standalone-strict"
    if schemas is None or not (schemas / expected).is_dir():
        return _skipped(samples, "no local schemas",
                        f"{SCHEMAS_ENV} names no directory holding {expected}/; kubeconform would otherwise "
                        "download schemas")
    if not samples:
        return {}
    with tempfile.TemporaryDirectory(prefix="qwen-iac-kubeconform-") as tmp:
        directories = write_samples(Path(tmp), samples)
        files = [str(path.relative_to(tmp)) for d in directories.values() for path in sorted(d.rglob("*"))
                 if path.is_file()]
        # Relative paths from tmp: every reported filename then starts with its sample's directory.
        result = subprocess.run([kubeconform, "-strict", "-summary", "-output", "json", "-kubernetes-version",
                                 version, "-schema-location", str(schemas), *files], cwd=tmp,
                                capture_output=True, text=True, env=scrubbed_env(), timeout=900)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"kubeconform failed to run: {(result.stderr or result.stdout).strip()[-500:]}") from None
    by_directory = {d.name: sample_id for sample_id, d in directories.items()}
    problems: dict[str, list[str]] = {sample.id: [] for sample in samples}
    for resource in report.get("resources") or []:
        if resource.get("status") not in _FAILED:
            continue
        directory, _, filename = resource.get("filename", "").partition("/")
        if directory not in by_directory:
            raise RuntimeError(f"kubeconform reported a file outside the samples: {resource.get('filename')}")
        name = f"{resource.get('kind') or '?'}/{resource.get('name') or '?'}"
        problems[by_directory[directory]].append(f"{filename}: {name}: {resource.get('msg', '')}")
    return {sample_id: [Check.from_problems(TOOL, found)] for sample_id, found in problems.items()}
