"""`qwen-iac harvest DIR`: a user's own IaC (Terraform modules, CloudFormation templates, Kubernetes
manifests, Helm charts) as instruction rows in the raw schema. The instruction is derived from what
the code declares; the output is the code itself (TERSE: just the code). A file that cannot be read or
parsed is reported with its reason and never becomes a row."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import yaml
from cfnlint.decode import decode_str

from stages.chat import IAC_SYSTEM_PROMPT

Row = dict[str, Any]


@dataclass
class Report:
    path: str
    status: str  # "harvested" | "skipped" | "refused"
    reason: str = ""


def _read_text(path: Path) -> tuple[str | None, str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if b"\0" in raw:
        return None, "binary file"
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def _fence(language: str, name: str | None, text: str) -> str:
    header = f"# file: {name}\n" if name else ""
    return f"```{language}\n{header}{text.rstrip()}\n```"


def _strip(value: Any) -> str:
    return str(value).strip('"')


def _terraform(directory: Path, files: dict[str, str], root: Path) -> Row:
    resources, variables, outputs = [], [], []
    for text in files.values():
        document = hcl2.loads(text)
        for block in document.get("resource", []):
            for type_name, named in block.items():
                resources += [f"{_strip(type_name)}.{_strip(n)}" for n in named if not n.startswith("__")]
        for block in document.get("variable", []):
            variables += [_strip(name) for name in block if not name.startswith("__")]
        for block in document.get("output", []):
            outputs += [_strip(name) for name in block if not name.startswith("__")]
    parts = [f"Write a Terraform module ({directory.relative_to(root)}) that manages {', '.join(resources)}."
             if resources else f"Write the Terraform configuration in {directory.relative_to(root)}."]
    if variables:
        parts.append(f"Inputs: {', '.join(variables)}.")
    if outputs:
        parts.append(f"Outputs: {', '.join(outputs)}.")
    readme = directory / "README.md"
    if readme.is_file():
        purpose = next((p.strip() for p in readme.read_text(errors="replace").split("\n\n")
                        if p.strip() and not p.lstrip().startswith("#")), "")
        if purpose:
            parts.append(f"Purpose: {' '.join(purpose.split())}")
    several = len(files) > 1
    output = "\n\n".join(_fence("hcl", name if several else None, text) for name, text in sorted(files.items()))
    return {"instruction": " ".join(parts), "output": output}


def _cloudformation(path: Path, text: str, template: dict) -> Row:
    resources = [f"{spec.get('Type', '?')} ({name})" for name, spec in (template.get("Resources") or {}).items()
                 if isinstance(spec, dict)]
    parts = ["Write a CloudFormation template"]
    if template.get("Description"):
        parts[0] += f": {' '.join(str(template['Description']).split())}"
    parts[0] += "."
    parts.append(f"Resources: {', '.join(resources)}.")
    if template.get("Parameters"):
        parts.append(f"Parameters: {', '.join(template['Parameters'])}.")
    language = "json" if path.suffix == ".json" else "yaml"
    return {"instruction": " ".join(parts), "output": _fence(language, None, text)}


def _kubernetes(text: str, documents: list[Any]) -> Row:
    metadata = [d.get("metadata") if isinstance(d.get("metadata"), dict) else {} for d in documents]
    names = [f"{d.get('kind')}/{m.get('name', '?')}" for d, m in zip(documents, metadata, strict=True)]
    namespaces = sorted({str(m["namespace"]) for m in metadata if m.get("namespace")})
    instruction = f"Write Kubernetes manifests for {', '.join(names)}"
    instruction += f" in namespace {', '.join(namespaces)}." if namespaces else "."
    return {"instruction": instruction, "output": _fence("yaml", None, text)}


def _helm(chart_dir: Path, files: dict[str, str]) -> Row:
    chart = yaml.safe_load(files["Chart.yaml"]) or {}
    kinds = []
    for name, text in sorted(files.items()):
        if name.startswith("templates/"):
            kinds += [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("kind:")]
    instruction = f"Write a Helm chart named {chart.get('name', chart_dir.name)}"
    instruction += f": {' '.join(str(chart['description']).split())}." if chart.get("description") else "."
    if kinds:
        instruction += f" Templates: {', '.join(kinds)}."
    output = "\n\n".join(_fence("yaml", name, text) for name, text in sorted(files.items()))
    return {"instruction": instruction, "output": output}


def _row(fields: Row) -> Row:
    return {"system": IAC_SYSTEM_PROMPT, "instruction": fields["instruction"], "input": "",
            "output": fields["output"], "style": "TERSE"}


def _add(rows: list[Row], reports: list[Report], where: Path, kind: str, describe: Any, *args: Any) -> None:
    """Describe one unit as a row, or refuse it when its declarations are not the shapes IaC tools accept."""
    try:
        row = describe(*args)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        reports.append(Report(str(where), "refused", f"not a valid {kind}: {type(exc).__name__}: {exc}"))
        return
    rows.append(_row(row))
    reports.append(Report(str(where), "harvested", kind))


def harvest(root: Path) -> tuple[list[Row], list[Report]]:
    rows: list[Row] = []
    reports: list[Report] = []
    all_files = sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))
    charts = sorted({p.parent for p in all_files if p.name == "Chart.yaml"})
    in_chart = {p for p in all_files for c in charts if p.is_relative_to(c)}

    def refuse(path: Path, reason: str) -> None:
        reports.append(Report(str(path.relative_to(root)), "refused", reason))

    for chart_dir in charts:
        files: dict[str, str] = {}
        problems = []
        for path in sorted(p for p in in_chart if p.is_relative_to(chart_dir)):
            name = str(path.relative_to(chart_dir))
            if name not in ("Chart.yaml", "values.yaml") and not name.startswith("templates/"):
                continue  # icons, licences, READMEs: not part of what the model should write
            text, reason = _read_text(path)
            if text is None:
                problems.append(f"{name}: {reason}")
                continue
            if name in ("Chart.yaml", "values.yaml"):
                try:
                    parsed = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    problems.append(f"{name} does not parse: {str(exc).splitlines()[0]}")
                    continue
                if name == "Chart.yaml" and not isinstance(parsed, dict):
                    problems.append("Chart.yaml is not a mapping")
            files[name] = text
        if problems:
            refuse(chart_dir, "; ".join(problems))
            continue
        _add(rows, reports, chart_dir.relative_to(root), "helm chart", _helm, chart_dir, files)

    modules: dict[Path, list[Path]] = {}
    for path in all_files:
        if path not in in_chart and path.suffix == ".tf":
            modules.setdefault(path.parent, []).append(path)
    for directory, paths in sorted(modules.items()):
        files, problems = {}, []
        for path in paths:
            text, reason = _read_text(path)
            if text is None:
                problems.append(f"{path.name}: {reason}")
                continue
            try:
                hcl2.loads(text)
            except Exception as exc:  # python-hcl2 raises several lark error types
                problems.append(f"{path.name} does not parse: {str(exc).splitlines()[0]}")
                continue
            files[path.name] = text
        if problems:
            refuse(directory, "; ".join(problems))
            continue
        _add(rows, reports, directory.relative_to(root), "terraform module", _terraform, directory, files, root)

    for path in all_files:
        if path in in_chart or path.suffix == ".tf" or path.name == "README.md":
            continue
        if path.suffix not in (".yaml", ".yml", ".json", ".template"):
            reports.append(Report(str(path.relative_to(root)), "skipped", "not an IaC file type"))
            continue
        text, reason = _read_text(path)
        if text is None:
            refuse(path, reason)
            continue
        try:
            row, reason = _yaml_or_json(path, text)
        except Exception as exc:  # valid YAML of a shape no IaC tool would accept
            row, reason = None, f"does not parse as IaC: {type(exc).__name__}: {exc}"
        if row is not None:
            rows.append(_row(row))
            reports.append(Report(str(path.relative_to(root)), "harvested", reason))
        elif reason.startswith("does not parse"):
            refuse(path, reason)
        else:  # valid YAML or JSON that is not IaC (CI config, package.json, ...)
            reports.append(Report(str(path.relative_to(root)), "skipped", reason))
    return rows, reports


def _yaml_or_json(path: Path, text: str) -> tuple[Row | None, str]:
    """A CloudFormation template or Kubernetes manifests, and which; or why neither."""
    if "AWSTemplateFormatVersion" in text or "AWS::" in text:
        template, matches = decode_str(text)
        if template is None:
            return None, f"does not parse: {matches[0].message if matches else 'unknown error'}"
        if isinstance(template, dict) and isinstance(template.get("Resources"), dict):
            return _cloudformation(path, text, template), "cloudformation template"
    try:
        documents = ([json.loads(text)] if path.suffix == ".json" else
                     [d for d in yaml.safe_load_all(text) if d is not None])
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        return None, f"does not parse: {str(exc).splitlines()[0]}"
    if documents and all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") for d in documents):
        return _kubernetes(text, documents), "kubernetes manifests"
    return None, "neither a CloudFormation template nor Kubernetes manifests"
