"""Terraform: HCL parse (python-hcl2), `terraform fmt -check`, and `terraform init -backend=false` +
`validate -json` through a local provider mirror, many samples at once as child modules of one root
(DESIGN.md decision 10: 21 samples took 13.5 s batched vs 68 s one by one)."""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import hcl2

from stages.validators import Check, Sample, scrubbed_env, write_samples

DEFAULT_PLUGIN_DIRS = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins")
_MODULE_CONTEXT = re.compile(r'module "(s\d{5})"')


def binary() -> str | None:
    return shutil.which("terraform")


def find_plugin_dir(configured: str | None = None) -> Path | None:
    candidates = [Path(configured)] if configured else list(DEFAULT_PLUGIN_DIRS)
    return next((p for p in candidates if (p / "registry.terraform.io").is_dir()), None)


def mirrored_providers(plugin_dir: Path) -> set[str]:
    """'hashicorp/aws' style names of the providers the mirror holds."""
    registry = plugin_dir / "registry.terraform.io"
    return {f"{ns.name}/{name.name}" for ns in registry.iterdir() if ns.is_dir() for name in ns.iterdir()}


def parse(sample: Sample) -> tuple[Check, dict]:
    parsed: dict = {}
    for name, text in sample.files.items():
        try:
            parsed[name] = hcl2.loads(text)
        except Exception as exc:  # python-hcl2 raises lark errors of several kinds
            return Check("hcl2", "fail", f"{name}: {str(exc).splitlines()[0]}"), {}
    return Check("hcl2", "pass"), parsed


def providers_used(parsed: dict) -> set[str]:
    """Providers a sample needs: declared in required_providers, or implied by resource type prefixes."""
    used: set[str] = set()
    for document in parsed.values():
        for block in document.get("terraform", []):
            for requirement in block.get("required_providers", []):
                for local_name, spec in requirement.items():
                    if isinstance(spec, dict):  # python-hcl2 keeps string quotes and adds __is_block__ keys
                        used.add(str(spec.get("source", f"hashicorp/{local_name}")).strip('"').lower())
        for kind in ("resource", "data"):
            for block in document.get(kind, []):
                for type_name in block:
                    if not type_name.startswith("__"):
                        used.add(f"hashicorp/{type_name.strip(chr(34)).split('_')[0]}")
    return used


def _foreign_modules(parsed: dict) -> list[str]:
    sources = []
    for document in parsed.values():
        for block in document.get("module", []):
            for spec in block.values():
                source = str(spec.get("source", "")).strip('"')
                if not source.startswith("./") or ".." in source.split("/"):  # nothing outside the sample
                    sources.append(source)
    return sources


def fmt_check(samples: list[Sample], terraform: str) -> dict[str, Check]:
    with tempfile.TemporaryDirectory(prefix="qwen-iac-tf-fmt-") as tmp:
        directories = write_samples(Path(tmp), samples)
        # Run inside tmp: fmt lists paths relative to its working directory, whatever the argument.
        result = subprocess.run([terraform, "fmt", "-check", "-list=true", "-recursive", "-no-color", "."],
                                cwd=tmp, capture_output=True, text=True, env=_env(Path(tmp)), timeout=600)
        unformatted = {Path(tmp, line.strip()).resolve() for line in result.stdout.splitlines() if line.strip()}
        checks = {}
        for sample_id, directory in directories.items():
            bad = sorted(str(p.relative_to(directory.resolve())) for p in unformatted
                         if p.is_relative_to(directory.resolve()))
            checks[sample_id] = Check.from_problems("terraform fmt", [f"not formatted: {name}" for name in bad])
    if result.returncode not in (0, 3):  # 3: some files need formatting; anything else: fmt could not run
        if len(samples) == 1:
            message = (result.stderr or result.stdout).strip().splitlines()[:1]
            return {samples[0].id: Check("terraform fmt", "fail", " ".join(message))}
        # One file terraform cannot read stops the whole run: check each sample on its own.
        return {k: v for sample in samples for k, v in fmt_check([sample], terraform).items()}
    return checks


def _env(workdir: Path) -> dict[str, str]:
    config = workdir / ".terraformrc"
    config.write_text("")  # no user CLI config: no plugin cache, no credentials helpers
    return scrubbed_env(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=str(config),
                        TF_INPUT="0")


def _required_variables(sample: Sample) -> list[str]:
    names = []
    for text in sample.files.values():
        for block in hcl2.loads(text).get("variable", []):
            names += [name.strip('"') for name, spec in block.items() if not name.startswith("__")
                      and "default" not in spec]
    return names


def _run_validate(root: Path, terraform: str, plugin_dir: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = _env(root)
    init = subprocess.run([terraform, "init", "-backend=false", f"-plugin-dir={plugin_dir}", "-input=false",
                           "-no-color"], cwd=root, capture_output=True, text=True, env=env, timeout=600)
    if init.returncode != 0:
        return init, {}
    validate = subprocess.run([terraform, "validate", "-json", "-no-color"], cwd=root, capture_output=True,
                              text=True, env=env, timeout=600)
    return init, json.loads(validate.stdout)


def _errors(diagnostics: list[dict]) -> list[str]:
    messages = []
    for diagnostic in diagnostics:
        if diagnostic["severity"] != "error":
            continue
        where = diagnostic.get("range", {})
        filename = where.get("filename", "").split("/", 1)[-1]  # relative to the sample, not the batch
        line = where.get("start", {}).get("line")
        messages.append(f"{filename}:{line}: {diagnostic['summary']}: {diagnostic.get('detail', '')}".strip())
    return messages


def _validate_alone(sample: Sample, terraform: str, plugin_dir: Path) -> Check:
    with tempfile.TemporaryDirectory(prefix="qwen-iac-tf-validate-") as tmp:
        directory = write_samples(Path(tmp), [sample])[sample.id]
        init, report = _run_validate(directory, terraform, plugin_dir)
    if init.returncode != 0:
        error = next((line for line in init.stderr.splitlines() if "Error" in line), init.stderr.strip()[:300])
        return Check("terraform validate", "fail", f"init: {error.strip('│ ')}")
    return Check.from_problems("terraform validate", _errors(report.get("diagnostics", [])))


def _validate_batch(samples: list[Sample], terraform: str, plugin_dir: Path) -> dict[str, Check]:
    """One root module calling every sample as a child module, its required variables set to null so
    that validation reaches inside. A group whose init fails is halved (one sample's unsatisfiable
    provider constraint must not sink the others); a sample the root reports on is rerun alone."""
    if len(samples) == 1:
        return {samples[0].id: _validate_alone(samples[0], terraform, plugin_dir)}
    with tempfile.TemporaryDirectory(prefix="qwen-iac-tf-validate-") as tmp:
        root = Path(tmp)
        directories = write_samples(root, samples)
        calls = []
        for sample in samples:
            name = directories[sample.id].name
            inputs = "".join(f"  {variable} = null\n" for variable in _required_variables(sample))
            calls.append(f'module "{name}" {{\n  source = "./{name}"\n{inputs}}}\n')
        (root / "main.tf").write_text("".join(calls))
        init, report = _run_validate(root, terraform, plugin_dir)
    if init.returncode != 0:
        middle = len(samples) // 2
        return (_validate_batch(samples[:middle], terraform, plugin_dir)
                | _validate_batch(samples[middle:], terraform, plugin_dir))
    by_directory = {d.name: sample for sample in samples for d in [directories[sample.id]]}
    samples_by_id = {sample.id: sample for sample in samples}
    errors: dict[str, list[dict]] = {sample.id: [] for sample in samples}
    rerun: dict[str, Sample] = {}
    for diagnostic in report.get("diagnostics", []):
        filename = diagnostic.get("range", {}).get("filename", "")
        if filename.split("/")[0] in by_directory:
            errors[by_directory[filename.split("/")[0]].id].append(diagnostic)
            continue
        match = _MODULE_CONTEXT.search(diagnostic.get("snippet", {}).get("context") or "")
        if match:  # the batch harness, not the sample, may be at fault: check that sample on its own
            rerun[by_directory[match.group(1)].id] = by_directory[match.group(1)]
        elif diagnostic["severity"] == "error":  # an error no sample can be blamed for: check each alone
            rerun = {sample.id: sample for sample in samples}
    results = {}
    for sample_id, found in errors.items():
        # Errors in a batch are confirmed alone: the null passed for a required variable is a known value
        # where a root module would see an unknown one (`for x in var.list` then fails only in the batch).
        if sample_id in rerun or _errors(found):
            results[sample_id] = _validate_alone(samples_by_id[sample_id], terraform, plugin_dir)
        else:
            results[sample_id] = Check("terraform validate", "pass")
    return results


def check(samples: list[Sample], plugin_dir: str | None = None) -> dict[str, list[Check]]:
    results: dict[str, list[Check]] = {}
    parsed_ok: list[Sample] = []
    providers: dict[str, set[str]] = {}
    for sample in samples:
        parse_check, parsed = parse(sample)
        results[sample.id] = [parse_check]
        if parse_check.status == "pass":
            parsed_ok.append(sample)
            providers[sample.id] = providers_used(parsed)
            remote = _foreign_modules(parsed)
            if remote:  # init would fetch them: never download what a model wrote, nor read outside the sample
                results[sample.id].append(Check("terraform validate", "fail",
                                                f"module sources outside the sample: {remote}"))
    terraform = binary()
    if terraform is None:
        for sample in samples:
            results[sample.id] += [Check("terraform fmt", "skipped", "terraform not installed"),
                                   Check("terraform validate", "skipped", "terraform not installed")]
        return results
    for sample_id, fmt in fmt_check(parsed_ok, terraform).items():
        results[sample_id].append(fmt)
    mirror = find_plugin_dir(plugin_dir)
    available = mirrored_providers(mirror) if mirror else set()
    to_validate = []
    for sample in parsed_ok:
        if any(c.tool == "terraform validate" for c in results[sample.id]):
            continue
        missing = sorted(providers[sample.id] - available)
        if missing:
            reason = f"providers {missing} not in the mirror {mirror}" if mirror else "no provider mirror found"
            results[sample.id].append(Check("terraform validate", "skipped", reason))
        else:
            to_validate.append(sample)
    if to_validate:
        for sample_id, validate in _validate_batch(to_validate, terraform, mirror).items():
            results[sample_id].append(validate)
    for sample in samples:
        if results[sample.id][0].status == "fail":
            results[sample.id] += [Check("terraform fmt", "skipped", "does not parse"),
                                   Check("terraform validate", "skipped", "does not parse")]
    return results
