"""IaC validators: one module per tool family, each checking many samples in as few tool runs as the
tool allows, through the tool's own machine-readable output. Generated code is never executed: no
plan/apply, samples live in temporary directories, and cloud credentials are removed from the
environment of every tool run."""

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["pass", "fail", "skipped"]

# Variables that would let a tool reach a real cloud account; none of them reaches a validator.
_CREDENTIAL_PREFIXES = ("AWS_", "GOOGLE_", "GCLOUD_", "CLOUDSDK_", "ARM_", "AZURE_", "KUBECONFIG", "PULUMI_",
                        "TF_VAR_", "TF_TOKEN_", "DIGITALOCEAN_", "HCLOUD_")


@dataclass
class Sample:
    """One answer's code as files: relative path -> content (a chart has several files)."""

    id: str
    language: str
    files: dict[str, str]


@dataclass
class Check:
    tool: str
    status: Status
    message: str = ""
    details: list[str] = field(default_factory=list)

    @classmethod
    def from_problems(cls, tool: str, problems: list[str]) -> "Check":
        return cls(tool, "fail", problems[0], problems) if problems else cls(tool, "pass")

    def as_dict(self) -> dict[str, object]:
        record: dict[str, object] = {"tool": self.tool, "status": self.status}
        if self.message:
            record["message"] = self.message
        if self.details:
            record["details"] = self.details
        return record


def scrubbed_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CREDENTIAL_PREFIXES)}
    env.update(extra)
    return env


def write_samples(root: Path, samples: list[Sample]) -> dict[str, Path]:
    """Each sample in its own directory under root, named by position (ids may hold any character)."""
    directories = {}
    for index, sample in enumerate(samples):
        directory = root / f"s{index:05d}"
        for relative, content in sample.files.items():
            path = (directory / relative).resolve()
            if not path.is_relative_to(directory.resolve()):  # a model-written name like ../../etc/x
                raise ValueError(f"sample {sample.id}: file name {relative!r} leaves its directory")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        directories[sample.id] = directory
    return directories
