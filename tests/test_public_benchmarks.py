"""The public-benchmark loaders, run against the copies kept outside the repository (never inside it). The
synthetic files in the rule tests are written here, not taken from any benchmark."""

import itertools
import os
import tempfile
import zipfile
from pathlib import Path

import hcl2
import pytest
import yaml
from cfnlint.decode import decode_str

from stages import public_benchmarks
from stages.public_benchmarks import SUITES, Task
from stages.rows import prompt_text, read_jsonl

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = Path(os.environ.get("QWEN_IAC_BENCHMARKS") or REPO.parent / "shared" / "benchmarks")
LANGUAGES = {"iac_eval": {"terraform"}, "dpiac_eval": {"cloudformation"}, "cloudeval_yaml": {"kubernetes"},
             "aws_iac_model_evaluation": {"terraform", "cloudformation"}}
CLOUDEVAL_FILES = {"labeled_code.yaml", "question.txt", "question_simplified.txt", "unit_test.sh"}


def _root_for(suite: str) -> Path:
    reason = public_benchmarks.available(BENCHMARKS)[suite]
    if reason:
        pytest.skip(f"benchmark {suite} unavailable (set QWEN_IAC_BENCHMARKS to its folder): {reason}")
    return BENCHMARKS


_loaded: dict[str, tuple[list[Task], list[dict]]] = {}


def _load(suite: str) -> tuple[list[Task], list[dict]]:
    """Each suite loaded once for the whole file: the tests only read the result."""
    if suite not in _loaded:
        _loaded[suite] = public_benchmarks.load_with_rejects(suite, _root_for(suite))
    return _loaded[suite]


@pytest.mark.parametrize("suite", SUITES)
def test_each_suite_loads_tasks_in_its_language(suite: str) -> None:
    tasks, rejects = _load(suite)
    assert tasks
    assert {task.suite for task in tasks} == {suite}
    assert {task.language for task in tasks} == LANGUAGES[suite]
    assert all(task.id.startswith(f"{suite}:") and task.prompt.strip() for task in tasks)
    assert all(reject["id"].startswith(f"{suite}:") and reject["reason"] for reject in rejects)
    assert not {reject["id"] for reject in rejects} & {task.id for task in tasks}


@pytest.mark.parametrize("suite", SUITES)
def test_ids_are_unique_and_stable(suite: str) -> None:
    tasks, _ = _load(suite)
    again = public_benchmarks.load(suite, _root_for(suite))
    assert len({task.id for task in tasks}) == len(tasks)
    assert again == tasks  # same ids, same content, same order


@pytest.mark.parametrize("suite", SUITES)
def test_limit_takes_an_evenly_spread_subset(suite: str) -> None:
    tasks, _ = _load(suite)
    limit = 7
    subset = public_benchmarks.load(suite, _root_for(suite), limit=limit)
    positions = [tasks.index(task) for task in subset]
    gaps = {after - before for before, after in itertools.pairwise(positions)}
    assert len(subset) == limit
    assert positions == sorted(set(positions))
    assert max(gaps) - min(gaps) <= 1  # even spacing, not the first N
    assert positions[-1] >= len(tasks) - len(tasks) // limit - 1  # reaches the end of the benchmark
    assert public_benchmarks.load(suite, _root_for(suite), limit=limit) == subset
    assert public_benchmarks.spread(tasks, len(tasks) + 1) == tasks
    assert public_benchmarks.spread(tasks, 0) == []


def _parses(task: Task) -> None:
    if task.language == "terraform":
        hcl2.loads(task.reference)
    elif task.language == "cloudformation":
        template, matches = decode_str(task.reference)
        assert template is not None, f"{task.id}: {matches}"
    else:
        assert [document for document in yaml.safe_load_all(task.reference) if document]


@pytest.mark.parametrize("suite", SUITES)
def test_reference_solutions_parse_as_their_language(suite: str) -> None:
    tasks, _ = _load(suite)
    sample = public_benchmarks.spread(tasks, 6)
    assert all(task.reference for task in sample)
    for task in sample:
        _parses(task)


def test_aws_prompts_follow_the_comment_rule() -> None:
    tasks, rejects = _load("aws_iac_model_evaluation")
    # the _pN files open with one request for the whole file, which is the prompt and not in the reference
    numbered = [task for task in tasks if task.id.removesuffix(" copy.tf").removesuffix(".tf")[-3:-1] == "_p"]
    assert numbered
    assert all("\n" not in task.prompt and task.prompt not in task.reference for task in numbered)
    assert any(reject["reason"].startswith("JSON rendering of") for reject in rejects)
    assert any("/tf-tests/" in reject["id"] for reject in rejects)


def test_cloudeval_leaves_nothing_unpacked_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root_for("cloudeval_yaml")
    made, targets = [], []
    real_mkdtemp, real_extract, real_extractall = tempfile.mkdtemp, zipfile.ZipFile.extract, zipfile.ZipFile.extractall

    def mkdtemp(*args: object, **kwargs: object) -> str:
        made.append(Path(real_mkdtemp(*args, **kwargs)))
        return str(made[-1])

    def extract(self: zipfile.ZipFile, member: str | zipfile.ZipInfo, path: str | None = None,
                pwd: bytes | None = None) -> str:
        targets.append(Path(path or os.getcwd()).resolve())
        return real_extract(self, member, path, pwd)

    def extractall(self: zipfile.ZipFile, path: str | None = None, members: list | None = None,
                   pwd: bytes | None = None) -> None:
        targets.append(Path(path or os.getcwd()).resolve())
        real_extractall(self, path, members, pwd)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(zipfile.ZipFile, "extract", extract)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", extractall)
    assert public_benchmarks.load("cloudeval_yaml", root)

    assert all(any(target.is_relative_to(folder.resolve()) for folder in made) for target in targets)
    assert not [folder for folder in made if folder.exists()]
    for folder, subfolders, files in os.walk(REPO):  # skip the virtual environments and VCS/DVC internals
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        assert not CLOUDEVAL_FILES & set(files), f"benchmark files unpacked under {folder}"


def test_unknown_suite_names_the_allowed_values(tmp_path: Path) -> None:
    for call in (public_benchmarks.load, public_benchmarks.load_with_rejects):
        with pytest.raises(ValueError, match="unknown benchmark suite 'helm_eval'") as error:
            call("helm_eval", tmp_path)
        assert all(suite in str(error.value) for suite in SUITES)


def test_available_says_why_a_suite_is_missing(tmp_path: Path) -> None:
    assert set(public_benchmarks.available(None).values()) == {"no benchmarks folder given"}
    absent = tmp_path / "absent"
    assert all(str(absent) in reason for reason in public_benchmarks.available(absent).values())
    reasons = public_benchmarks.available(tmp_path)  # the folder exists but holds no suite
    assert reasons.keys() == set(SUITES)
    for suite, folder in (("iac_eval", "iac-eval-partial"), ("dpiac_eval", "dpiac-eval"),
                          ("cloudeval_yaml", "data.zip"), ("aws_iac_model_evaluation", "aws-iac-model-evaluation")):
        assert folder in reasons[suite]
    with pytest.raises(FileNotFoundError, match="iac-eval-partial"):
        public_benchmarks.load("iac_eval", tmp_path)


def test_malformed_rows_are_rejected_with_a_reason(tmp_path: Path) -> None:
    iac_eval = tmp_path / "iac-eval-partial"
    iac_eval.mkdir()
    (iac_eval / "main.csv").write_text(
        "Resource,Prompt,Rego intent,Difficulty,Reference output,Intent\n"
        'aws_s3_bucket,"Make a bucket\nnamed logs",rego,1,"resource ""aws_s3_bucket"" ""b"" {\n}\n",intent\n'
        "aws_s3_bucket,  ,rego,1,x,intent\n", encoding="utf-8")
    tasks, rejects = public_benchmarks.load_with_rejects("iac_eval", tmp_path)
    assert [(task.id, task.prompt) for task in tasks] == [("iac_eval:0", "Make a bucket\nnamed logs")]
    assert tasks[0].reference == 'resource "aws_s3_bucket" "b" {\n}'
    assert rejects == [{"id": "iac_eval:1", "reason": "empty Prompt"}]

    dpiac = tmp_path / "dpiac-eval"
    (dpiac / "groud_truth" / "template").mkdir(parents=True)
    (dpiac / "groud_truth" / "template" / "queue.yaml").write_text("Resources: {}\n", encoding="utf-8")
    (dpiac / "iac_basic.csv").write_text(
        "row_number,ground_truth_path,prompt\n"
        "0,Data\\groud_truth\\template\\queue.yaml,Make a queue\n"
        "1,Data\\groud_truth\\template\\gone.yaml,Make a topic\n"
        "2,Data\\groud_truth\\template\\queue.yaml,\n", encoding="utf-8")
    tasks, rejects = public_benchmarks.load_with_rejects("dpiac_eval", tmp_path)
    assert [(task.id, task.reference) for task in tasks] == [("dpiac_eval:0", "Resources: {}")]
    assert [reject["id"] for reject in rejects] == ["dpiac_eval:1", "dpiac_eval:2"]
    assert "not found" in rejects[0]["reason"] and rejects[1]["reason"] == "empty prompt"


def test_aws_prompt_rule_on_synthetic_files(tmp_path: Path) -> None:
    terraform = tmp_path / "aws-iac-model-evaluation" / "terraform" / "aws-provider"
    cloudformation = tmp_path / "aws-iac-model-evaluation" / "cloudformation"
    terraform.mkdir(parents=True)
    cloudformation.mkdir(parents=True)
    (terraform / "file_level.tf").write_text('# Make a queue\n\n# the queue\nresource "a" "b" {}\n')
    (terraform / "blocks.tf").write_text('# a variable\n# for the name\nvariable "n" {}\n\n'
                                         'resource "a" "b" {\n  x = <<EOT\n# not a comment\nEOT\n}\n# an output\n')
    (terraform / "silent.tf").write_text('resource "a" "b" {}\n')
    (cloudformation / "described.yaml").write_text("Description: |\n  Make a\n  topic\nResources: {}\n")
    (cloudformation / "described.json").write_text('{"Description": "Make a topic", "Resources": {}}')
    (cloudformation / "rain.yaml").write_text("Description: Generated by rain\nResources:\n  # a bucket\n"
                                              "  B:\n    Type: AWS::S3::Bucket\n")
    tasks, rejects = public_benchmarks.load_with_rejects("aws_iac_model_evaluation", tmp_path)
    found = {task.id.split(":", 1)[1]: (task.prompt, task.reference, task.language) for task in tasks}
    assert found == {
        "terraform/aws-provider/file_level.tf": ("Make a queue", '# the queue\nresource "a" "b" {}', "terraform"),
        "terraform/aws-provider/blocks.tf": ("a variable for the name\nan output",
                                             (terraform / "blocks.tf").read_text().strip(), "terraform"),
        "cloudformation/described.yaml": ("Make a topic", "Description: |\n  Make a\n  topic\nResources: {}",
                                          "cloudformation"),
        "cloudformation/rain.yaml": ("a bucket", (cloudformation / "rain.yaml").read_text().strip(), "cloudformation"),
    }
    assert {reject["id"].split(":", 1)[1] for reject in rejects} == {"terraform/aws-provider/silent.tf",
                                                                      "cloudformation/described.json"}


def _task(number: int, prompt: str) -> Task:
    return Task(f"iac_eval:{number}", "iac_eval", prompt, "terraform", "")


def test_leaks_flags_a_planted_near_duplicate_only() -> None:
    tasks = [_task(0, "Create an S3 bucket with versioning enabled and a lifecycle rule that expires objects"),
             _task(1, "Deploy a Kubernetes deployment of nginx with three replicas behind a service")]
    planted = "create an s3 bucket, with versioning enabled and a lifecycle rule that expires objects!"
    unrelated = ["Explain how a hash map resolves collisions", "Write a haiku about autumn rain"]
    assert public_benchmarks.leaks(unrelated, tasks, 0.8) == []
    found = public_benchmarks.leaks([*unrelated, planted], tasks, 0.8)
    assert [(leak["task_id"], leak["train_index"]) for leak in found] == [("iac_eval:0", 2)]
    assert set(found[0]) == {"task_id", "suite", "train_index", "similarity"}  # ids only, no benchmark text
    with pytest.raises(ValueError, match="threshold"):
        public_benchmarks.leaks(unrelated, tasks, 0)


def test_shipped_corpus_does_not_leak_any_benchmark_prompt() -> None:
    """The real check: no prompt of the shipped training corpus near-duplicates a benchmark prompt."""
    suites = [suite for suite, reason in public_benchmarks.available(BENCHMARKS).items() if not reason]
    raw = [REPO / "data" / "raw" / f"{name}.jsonl" for name in ("iac", "verbosity")]
    if not suites or not all(path.exists() for path in raw):
        pytest.skip("needs the benchmarks and data/raw/*.jsonl (`dvc pull`)")
    threshold = yaml.safe_load((REPO / "params.yaml").read_text())["split"]["near_duplicate_threshold"]
    train = [prompt_text(row) for path in raw for row in read_jsonl(path)]
    tasks = [task for suite in suites for task in _load(suite)[0]]
    assert public_benchmarks.leaks(train, tasks, threshold) == []
