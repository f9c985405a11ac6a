"""Kubernetes manifests: yamllint (relaxed) and kubernetes-validate in strict mode against one
Kubernetes version. kubernetes-validate passes unknown kinds by default; here a kind without a
schema is a failure."""

from typing import Any

import kubernetes_validate
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from stages.validators import Check, Sample

DEFAULT_VERSION = "1.31.0"
_YAMLLINT = YamlLintConfig("extends: relaxed")


def yamllint(sample: Sample) -> Check:
    problems = [f"{name}:{p.line}: {p.desc} ({p.rule})" for name, text in sample.files.items()
                for p in linter.run(text, _YAMLLINT) if p.level == "error"]
    return Check.from_problems("yamllint", problems)


def documents(sample: Sample) -> list[Any]:
    return [doc for text in sample.files.values() for doc in yaml.safe_load_all(text) if doc is not None]


def strict_validate(sample: Sample, version: str) -> Check:
    tool = f"kubernetes-validate --strict {version}"
    try:
        resources = documents(sample)
    except yaml.YAMLError as exc:
        return Check(tool, "fail", f"YAML does not parse: {str(exc).splitlines()[0]}")
    if not resources:
        return Check(tool, "fail", "no Kubernetes resources")
    problems = []
    for resource in resources:
        if not isinstance(resource, dict):
            problems.append(f"a YAML document is a {type(resource).__name__}, not a resource")
            continue
        metadata = resource.get("metadata")
        name = f"{resource.get('kind', '?')}/{metadata.get('name', '?') if isinstance(metadata, dict) else '?'}"
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{name}: no schema for this kind/apiVersion in Kubernetes {version}")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{name}: {path}: {exc.message}")
        except (kubernetes_validate.InvalidSchemaError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{name}: not a valid resource ({type(exc).__name__}: {exc})")
    return Check.from_problems(tool, problems)


def check(samples: list[Sample], version: str = DEFAULT_VERSION) -> dict[str, list[Check]]:
    return {sample.id: [yamllint(sample), strict_validate(sample, version)] for sample in samples}
