"""tflint over many Terraform samples in one `--recursive` run (each sample a module directory of its
own), JSON output, counting error-severity issues. Offline by construction: `tflint --init`, the only
command that downloads plugins, is never run; the config is ours (only the terraform ruleset bundled in
the binary) and the plugin directory is empty, so nothing a sample or the user's home holds is loaded."""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from stages.validators import Check, Sample, scrubbed_env, write_samples

TOOL = "tflint"
CONFIG = '''config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}
'''
# tflint matches its annotations case-sensitively; same-length rewriting keeps every line and column.
_ANNOTATION = re.compile(r"tflint-ignore")
_WORKER = re.compile(r"Failed to run in (s\d{5})")  # how --recursive names a directory whose run failed


def binary() -> str | None:
    return shutil.which("tflint")


def _unsilenced(sample: Sample) -> Sample:
    """Generated code must not switch off its own checker: `# tflint-ignore: all` becomes a plain comment."""
    return Sample(sample.id, sample.language,
                  {name: _ANNOTATION.sub("tflint-IGNORE", text) for name, text in sample.files.items()})


def _describe(entry: dict, directory: str) -> str:
    where = entry.get("range") or {}
    filename = where.get("filename", "").removeprefix(f"{directory}/")
    rule = entry.get("rule", {}).get("name") or entry.get("summary", "")
    return f"{rule} {filename}:{where.get('start', {}).get('line')}: {entry.get('message', '')}".strip()


def _owner(filename: str, root: Path, directories: set[str]) -> str | None:
    """The sample directory a reported file lies in: tflint names files relative to where it runs."""
    path = Path(filename)
    if path.is_absolute():
        if not path.resolve().is_relative_to(root.resolve()):
            return None
        path = path.resolve().relative_to(root.resolve())
    return path.parts[0] if path.parts and path.parts[0] in directories else None


def _run(samples: list[Sample], tflint: str) -> dict[str, Check] | None:
    """One run over the batch; None when a finding names no sample directory (it is then rerun alone)."""
    with tempfile.TemporaryDirectory(prefix="qwen-iac-tflint-") as tmp:
        root, plugins, config = Path(tmp, "samples"), Path(tmp, "plugins"), Path(tmp, "tflint.hcl")
        plugins.mkdir()
        config.write_text(CONFIG)
        by_directory = {d.name: sample_id for sample_id, d in
                        write_samples(root, [_unsilenced(s) for s in samples]).items()}
        # --recursive walks the working directory: run inside root so each sample is one module.
        result = subprocess.run([tflint, "--recursive", "--format=json", f"--config={config}"], cwd=root,
                                capture_output=True, text=True, timeout=900,
                                env=scrubbed_env(TFLINT_PLUGIN_DIR=str(plugins), CHECKPOINT_DISABLE="1"))
        try:
            report = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(f"tflint failed to run: {(result.stderr or result.stdout).strip()[-500:]}") from None
        errors: dict[str, list[str]] = {sample_id: [] for sample_id in by_directory.values()}
        notes: dict[str, list[str]] = {sample_id: [] for sample_id in by_directory.values()}
        for issue in report.get("issues") or []:
            directory = _owner(issue.get("range", {}).get("filename", ""), root, set(by_directory))
            if directory is None and len(samples) > 1:
                return None
            directory = directory or next(iter(by_directory))
            severity = issue.get("rule", {}).get("severity", "error")
            described = _describe(issue, directory)
            if severity == "error":
                errors[by_directory[directory]].append(described)
            else:  # reported, not counted
                notes[by_directory[directory]].append(f"{severity}: {described}")
        for error in report.get("errors") or []:
            _assign_error(error, root, by_directory, errors)
    return {sample_id: Check(TOOL, "fail", f"{len(found)} error(s): {found[0]}", found + notes[sample_id])
            if found else Check(TOOL, "pass", details=notes[sample_id]) for sample_id, found in errors.items()}


def _assign_error(error: dict, root: Path, by_directory: dict[str, str], errors: dict[str, list[str]]) -> None:
    """tflint's own errors: a sample it could not load (its module run failed) is a failure of that sample;
    an error that names no sample means tflint itself could not work, which no sample is to blame for."""
    message = error.get("message", "")
    if "TFLint config" in message:  # our configuration, not the sample, is at fault
        raise RuntimeError(f"tflint rejected its configuration: {message[:500]}")
    ranged = _owner((error.get("range") or {}).get("filename", ""), root, set(by_directory))
    # Failures of several module runs arrive joined in one message, each introduced by its directory.
    chunks = re.split(r"(?=Failed to run in s\d{5})", message)
    named = [(match.group(1), chunk) for chunk in chunks if (match := _WORKER.search(chunk))]
    if ranged:
        named.append((ranged, _describe(error, ranged)))
    if not named and len(by_directory) == 1:
        named = [(next(iter(by_directory)), message)]
    if not named:
        raise RuntimeError(f"tflint failed to run: {message[:500]}")
    for directory, text in named:
        if directory in by_directory:
            errors[by_directory[directory]].append(" ".join(text.split())[:500])


def check(samples: list[Sample]) -> dict[str, list[Check]]:
    tflint = binary()
    if tflint is None:
        return {s.id: [Check(TOOL, "skipped", "tflint not installed")] for s in samples}
    if not samples:
        return {}
    checks = _run(samples, tflint)
    if checks is None:  # a finding the batch could not place: each sample on its own instead
        checks = {k: v for sample in samples for k, v in (_run([sample], tflint) or {}).items()}
    return {sample_id: [found] for sample_id, found in checks.items()}

