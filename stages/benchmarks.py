"""Public IaC benchmarks, read in place for evaluation and leakage checks only (never trained on, never
copied into the repository): IaC-Eval CSV (Terraform), DPIaC-Eval (CloudFormation), aws
iac-model-evaluation (Terraform and CloudFormation), CloudEval-YAML (Kubernetes; read from its
password-protected zip in memory, never unpacked to disk, as its authors ask)."""

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

# The password from the dataset's own public loader.
CLOUDEVAL_PASSWORD = b"B805ED0EBFD8"
csv.field_size_limit(10_000_000)  # IaC-Eval cells hold whole Rego policies and Terraform files


@dataclass(frozen=True)
class Item:
    suite: str
    id: str
    prompt: str
    reference: str
    language: str


def _iac_eval(root: Path) -> list[Item]:
    items, seen = [], set()
    for path in sorted((root / "iac-eval-partial").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for index, record in enumerate(csv.DictReader(handle)):
                if record["Prompt"] in seen:  # the simplified-Rego file repeats the same rows
                    continue
                seen.add(record["Prompt"])
                items.append(Item("iac-eval", f"{path.stem}:{index}", record["Prompt"],
                                  record.get("Reference output", ""), "terraform"))
    return items


def _dpiac(root: Path) -> list[Item]:
    base = root / "dpiac-eval"
    items = []
    with (base / "iac_basic.csv").open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            name = record["ground_truth_path"].replace("\\", "/").split("/")[-1]  # the CSV has Windows paths
            reference = base / "groud_truth" / "template" / name
            text = reference.read_text(encoding="utf-8", errors="replace") if reference.is_file() else ""
            items.append(Item("dpiac-eval", record["row_number"], record["prompt"], text, "cloudformation"))
    return items


def _aws_model_evaluation(root: Path) -> list[Item]:
    base = root / "aws-iac-model-evaluation"
    items = []
    for path in sorted((base / "terraform").rglob("*.tf")):
        text = path.read_text(encoding="utf-8", errors="replace")
        prompt = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), "")
        items.append(Item("aws-iac-model-evaluation", str(path.relative_to(base)), prompt, text, "terraform"))
    for path in sorted((base / "cloudformation").glob("*.*")):
        if path.suffix in (".yaml", ".json"):
            text = path.read_text(encoding="utf-8", errors="replace")
            items.append(Item("aws-iac-model-evaluation", str(path.relative_to(base)), "", text, "cloudformation"))
    return items


def _cloudeval(root: Path) -> list[Item]:
    items = []
    with zipfile.ZipFile(root / "cloudeval-yaml" / "data.zip") as archive:
        names = set(archive.namelist())
        for name in sorted(names):
            if not name.endswith("/question.txt"):
                continue
            directory = name.rsplit("/", 1)[0]
            code = f"{directory}/labeled_code.yaml"
            items.append(Item(
                "cloudeval-yaml", directory,
                archive.read(name, pwd=CLOUDEVAL_PASSWORD).decode("utf-8", errors="replace"),
                archive.read(code, pwd=CLOUDEVAL_PASSWORD).decode("utf-8", errors="replace") if code in names else "",
                "kubernetes"))
    return items


LOADERS = {"iac-eval": _iac_eval, "dpiac-eval": _dpiac, "aws-iac-model-evaluation": _aws_model_evaluation,
           "cloudeval-yaml": _cloudeval}
FOLDERS = {"iac-eval": "iac-eval-partial", "dpiac-eval": "dpiac-eval",
           "aws-iac-model-evaluation": "aws-iac-model-evaluation", "cloudeval-yaml": "cloudeval-yaml"}


def load(root: Path) -> list[Item]:
    """Every suite present under root (a suite whose folder is missing is left out)."""
    return [item for suite, loader in LOADERS.items() if (root / FOLDERS[suite]).exists() for item in loader(root)]
