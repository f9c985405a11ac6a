"""The versioning workflows of the README's "Experiments and versions", run from the README itself (each
block as written there) against a real S3 protocol endpoint: moto's server in this process, as dvc-s3's
own test-suite does, holding the bucket of the project's own `.dvc/config` remote. Credentials come from
the environment only. The pipeline is the real one on the tiny model: two releases, two experiments."""

import filecmp
import os
import re
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stages import remote
from tests.tiny_models import GIT_IDENTITY, REPO, STEPS, VENV_PATH, write_pipeline_repo

ARTIFACTS = ("models/stage1_adapter", "models/complete_adapter", "models/merged", "models/awq")
BLOCK = re.compile(r"<!-- test: (?P<name>\w+) -->\n```bash\n(?P<body>.*?)```", re.S)


def readme_block(name: str) -> str:
    blocks = {match["name"]: match["body"] for match in BLOCK.finditer((REPO / "README.md").read_text())}
    return blocks[name]


def run_block(name: str, cwd: Path, env: dict[str, str], **variables: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block(name)], cwd=cwd, env={**env, **variables},
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, f"README block {name!r} failed:\n{done.stdout}\n{done.stderr}"
    return done


def run(cwd: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def closed_port() -> int:
    """A local port nothing listens on: an S3 endpoint that cannot be reached."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """moto's S3 server with the project remote's bucket, and an environment that points DVC at it and at
    nothing of this machine's own (no ~/.aws, no global or system DVC config)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: the system picks
    server.start()
    try:
        endpoint = "http://{}:{}".format(*server.get_host_and_port())
        isolated = tmp_path_factory.mktemp("machine")
        (isolated / "aws").write_text("")
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "DVC_"))}
        env.update(GIT_IDENTITY, PATH=VENV_PATH,
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                   AWS_ENDPOINT_URL_S3=endpoint, AWS_CONFIG_FILE=str(isolated / "aws"),
                   AWS_SHARED_CREDENTIALS_FILE=str(isolated / "aws"), AWS_EC2_METADATA_DISABLED="true",
                   DVC_GLOBAL_CONFIG_DIR=str(isolated), DVC_SYSTEM_CONFIG_DIR=str(isolated), DVC_NO_ANALYTICS="1")
        bucket = remote_url().removeprefix("s3://").split("/")[0]
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1").create_bucket(Bucket=bucket)
        yield env
    finally:
        server.stop()


def remote_url() -> str:
    from dvc.config import Config

    return Config(dvc_dir=REPO / ".dvc", validate=False).load_one("repo")["remote"]["storage"]["url"]


def tiny(params: dict) -> None:
    """The pipeline on the tiny model: a few optimizer steps, short answers, open gates."""
    params["validate"]["sources"]["verbosity"]["terse_max_tokens"] = 400  # its 1,024-token BPE splits finer
    params["validate"]["sources"]["iac"]["terse_max_tokens"] = 4096
    for stage, steps in STEPS.items():
        params[stage].update(max_steps=steps, save_steps=2, batch_size=2, gradient_accumulation_steps=1,
                             max_length=4096, eval_examples=2, learning_rate=5e-3)
    params["quantize"].update(scheme="W4A16", group_size=32, calibration_samples=8, max_seq_length=256)
    params["parity"].update(first_tokens=4, max_perplexity_increase=10.0, min_first_tokens_agreement=0.0,
                            max_style_ratio_drop=1.0)
    params["eval"]["verbosity"].update(max_new_tokens=8, min_ratio=0.01)
    params["eval"]["iac"].update(prompts=2, max_new_tokens=8)
    params["split"]["verbosity_eval_prompts"] = 5
    del params["eval"]["models"]["base"]  # the fine-tuned models are what releases differ in


@dataclass
class Releases:
    work: Path
    url: str  # the git remote, a bare repository
    env: dict[str, str]
    models: dict[str, Path]  # tag -> a copy of its models/ as built


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, s3_env: dict[str, str]) -> Releases:
    """v1 built and released; two experiments; the better one released as v2."""
    root = tmp_path_factory.mktemp("versions")
    origin = root / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    work = write_pipeline_repo(root / "work", tiny_model_dir, tiny)
    subprocess.run(["git", "remote", "add", "origin", str(origin)], cwd=work, check=True)
    models = {}
    run_block("release", work, s3_env, TAG="v1")
    models["v1"] = Path(shutil.copytree(work / "models", root / "v1", symlinks=True))
    run_block("experiments", work, s3_env)
    run_block("release", work, s3_env, TAG="v2")
    models["v2"] = Path(shutil.copytree(work / "models", root / "v2", symlinks=True))
    return Releases(work, f"file://{origin}", s3_env, models)


def same_tree(left: Path, right: Path) -> bool:
    """Byte-identical directory trees: the same names, the same contents."""
    compared = filecmp.dircmp(left, right, ignore=[])
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(left / d, right / d) for d in compared.common_dirs)


def clone(releases: Releases, into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", releases.url, str(into)], check=True, env=releases.env)
    return into


def test_a_release_pushes_every_output_and_keeps_the_records_in_git(releases: Releases) -> None:
    status = run(releases.work, releases.env, "dvc", "status", "--cloud")
    assert status.returncode == 0 and "Cache and remote 'storage' are in sync" in status.stdout, status.stdout
    tracked = run(releases.work, releases.env, "git", "ls-files").stdout.split()
    for name in ("dvc.lock", "params.yaml", "metrics/train_stage2.json", "metrics/verbosity_awq.json"):
        assert name in tracked
    assert not any(name.startswith(("models/merged/", "data/splits/")) for name in tracked)  # DVC's, not git's
    for tag in ("v1", "v2"):
        assert run(releases.work, releases.env, "git", "ls-remote", "--tags", releases.url, tag).stdout
    assert not same_tree(releases.models["v1"] / "complete_adapter", releases.models["v2"] / "complete_adapter")


def test_two_experiments_are_listed_and_their_metrics_compared(releases: Releases) -> None:
    shown = run(releases.work, releases.env, "dvc", "exp", "show", "--json", "--rev", "v1")  # their baseline
    assert shown.returncode == 0, shown.stderr
    assert {"lr-low", "lr-high"} <= set(re.findall(r'"name": "([^"]+)"', shown.stdout))
    diff = run(releases.work, releases.env, "dvc", "metrics", "diff", "lr-low", "lr-high", "--json")
    assert diff.returncode == 0, diff.stderr
    changed = yaml.safe_load(diff.stdout)["metrics/train_stage2.json"]
    assert changed["final_loss"]["diff"] != 0 and changed["eval_loss"]["diff"] != 0
    params = yaml.safe_load(run(releases.work, releases.env, "git", "show", "v2:params.yaml").stdout)
    assert params["train_stage2"]["learning_rate"] == 1e-3  # v2 is the applied experiment


def test_a_fresh_clone_pulls_the_exact_adapter(releases: Releases, tmp_path: Path) -> None:
    done = run_block("clone", tmp_path, releases.env, REPO_URL=releases.url)
    assert "reachable, bucket found, credentials accepted" in done.stderr  # qwen-iac remote
    pulled = tmp_path / "qwen-iac" / "models"
    assert same_tree(pulled / "complete_adapter", releases.models["v2"] / "complete_adapter")
    assert not (pulled / "merged").exists()  # only what was asked for


def test_credentials_in_the_local_config_work_and_leave_the_tracked_files_alone(releases: Releases,
                                                                            tmp_path: Path) -> None:
    checkout = clone(releases, tmp_path / "clone")
    env = {key: value for key, value in releases.env.items()
           if key not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}  # only the local config has them
    done = run_block("credentials", checkout, env, KEY_ID="testing", SECRET_KEY="testing")
    assert "credentials accepted" in done.stderr
    assert run(checkout, env, "git", "status", "--porcelain").stdout == ""  # .dvc/config.local is ignored
    assert "access_key_id = testing" in (checkout / ".dvc" / "config.local").read_text()
    pulled = run(checkout, env, "qwen-iac", "pull", "models/complete_adapter")
    assert pulled.returncode == 0 and re.search(r"\b[1-9]\d* files fetched", pulled.stderr), pulled.stderr
    assert same_tree(checkout / "models" / "complete_adapter", releases.models["v2"] / "complete_adapter")


def test_dvc_get_returns_a_release_after_a_newer_one(releases: Releases, tmp_path: Path) -> None:
    run_block("get", tmp_path, releases.env, REPO_URL=releases.url)
    assert same_tree(tmp_path / "complete_adapter_v1", releases.models["v1"] / "complete_adapter")


def test_rollback_restores_every_artifact_of_the_tag(releases: Releases, tmp_path: Path) -> None:
    checkout = clone(releases, tmp_path / "serving")
    done = run_block("rollback", checkout, releases.env)
    assert "rollback to v1" in done.stderr
    for path in ARTIFACTS:
        assert same_tree(checkout / path, releases.models["v1"] / path.removeprefix("models/")), path
    at_v1 = run(checkout, releases.env, "git", "show", "v1:dvc.lock").stdout
    assert (checkout / "dvc.lock").read_text() == at_v1
    assert run(checkout, releases.env, "git", "status", "--porcelain", "dvc.lock").stdout == ""  # committed


def test_rollback_refuses_what_it_cannot_do_safely(releases: Releases, tmp_path: Path) -> None:
    checkout = clone(releases, tmp_path / "serving")
    unknown = run(checkout, releases.env, "qwen-iac", "rollback", "--to", "v9")
    assert unknown.returncode == 1 and "no git tag or revision 'v9'" in unknown.stderr
    assert "v2, v1" in unknown.stderr or "v1, v2" in unknown.stderr
    with (checkout / "dvc.lock").open("a") as lock:
        lock.write("# an edit of my own\n")
    dirty = run(checkout, releases.env, "qwen-iac", "rollback", "--to", "v1")
    assert dirty.returncode == 1 and "dvc.lock has uncommitted changes" in dirty.stderr
    assert (checkout / "dvc.lock").read_text().endswith("# an edit of my own\n")  # kept
    assert not (checkout / "models" / "merged").exists()


def test_rollback_works_from_the_cache_without_the_remote_and_never_over_a_changed_model(
        releases: Releases, tmp_path: Path) -> None:
    env = {**releases.env, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{closed_port()}"}  # the remote is down
    host = Path(shutil.copytree(releases.work, tmp_path / "host", symlinks=True))  # v1 and v2 in its cache
    done = run(host, env, "qwen-iac", "rollback", "--to", "v1")
    assert done.returncode == 0, done.stderr
    assert all(same_tree(host / path, releases.models["v1"] / path.removeprefix("models/")) for path in ARTIFACTS)

    edited = Path(shutil.copytree(releases.work, tmp_path / "edited", symlinks=True))
    config = edited / "models" / "merged" / "config.json"
    config.chmod(0o644)
    config.write_text(config.read_text().replace("{", '{"my_edit": true, ', 1))  # changed, never cached
    lock = (edited / "dvc.lock").read_text()
    refused = run(edited, env, "qwen-iac", "rollback", "--to", "v1")
    assert refused.returncode == 1 and "models/merged differ from what dvc.lock records" in refused.stderr
    assert all(same_tree(edited / path, releases.models["v2"] / path.removeprefix("models/"))
               for path in ARTIFACTS if path != "models/merged")  # nothing was touched
    assert '"my_edit": true' in config.read_text() and (edited / "dvc.lock").read_text() == lock


def test_a_rollback_the_remote_cannot_serve_leaves_everything_as_it_was(releases: Releases,
                                                                       tmp_path: Path) -> None:
    checkout = clone(releases, tmp_path / "serving")
    assert run(checkout, releases.env, "dvc", "pull", "models/complete_adapter").returncode == 0  # v2's
    env = {**releases.env, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{closed_port()}"}  # v1's are not in the cache
    lock = (checkout / "dvc.lock").read_text()
    failed = run(checkout, env, "qwen-iac", "rollback", "--to", "v1")
    assert failed.returncode == 1 and "the endpoint cannot be reached" in failed.stderr, failed.stderr
    assert (checkout / "dvc.lock").read_text() == lock
    assert run(checkout, env, "git", "status", "--porcelain").stdout == ""
    assert same_tree(checkout / "models" / "complete_adapter", releases.models["v2"] / "complete_adapter")


def _moto_auth(env: dict[str, str], count: str) -> None:
    """moto's server authenticates requests after `count` more (0: from now on; inf: never)."""
    endpoint = env["AWS_ENDPOINT_URL_S3"]
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


# case -> (how to break it, what the message must say)
REMOTE_PROBLEMS = {
    "missing bucket": ("dvc remote modify --local storage url s3://no-such-bucket/qwen-iac",
                       "bucket 'no-such-bucket' does not exist"),
    "credentials refused": ("moto-auth", "the credentials were refused (403)"),
    "no credentials": ("unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY", "no credentials found"),
    "unreachable endpoint": ("AWS_ENDPOINT_URL_S3=http://127.0.0.1:{closed}", "the endpoint cannot be reached"),
    "secret in tracked config": ("dvc remote modify storage access_key_id AKIAEXAMPLEEXAMPLE",
                                 "credentials in the tracked .dvc/config (storage.access_key_id)"),
}


@pytest.mark.parametrize("case", REMOTE_PROBLEMS)
def test_a_remote_problem_gets_one_message_naming_the_remote(releases: Releases, tmp_path: Path, case: str) -> None:
    checkout = clone(releases, tmp_path / "clone")
    breakage, expected = REMOTE_PROBLEMS[case]
    env = dict(releases.env)
    if breakage == "moto-auth":
        _moto_auth(env, "0")
    elif breakage.startswith("unset "):
        for key in breakage.split()[1:]:
            env.pop(key)
    elif breakage.startswith("AWS_"):
        key, value = breakage.format(closed=closed_port()).split("=", 1)
        env[key] = value
    else:
        subprocess.run(breakage.split(), cwd=checkout, env=env, check=True, capture_output=True)
    try:
        pulled = run(checkout, env, "qwen-iac", "pull", "models/complete_adapter")
        checked = run(checkout, env, "qwen-iac", "remote")
    finally:
        if breakage == "moto-auth":
            _moto_auth(env, "inf")
    for done in (pulled, checked):
        assert done.returncode == 1, done.stdout + done.stderr
        message = " ".join(done.stderr.split())
        assert expected in message and "Traceback" not in message and message.lower().count("error") == 1, message
        if case != "secret in tracked config":
            assert "DVC remote 'storage'" in message
    assert not (checkout / "models" / "complete_adapter").exists()


def test_the_tracked_config_holds_no_credentials_and_the_local_one_is_ignored() -> None:
    assert remote.tracked_secrets(REPO) == []
    assert "/config.local" in (REPO / ".dvc" / ".gitignore").read_text().split()


def test_every_command_block_of_the_section_is_one_these_tests_run() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Experiments and versions"):]
    section = section[:section.index("\n## ", 1)]
    run_here = set(re.findall(r'run_block\("(\w+)"', Path(__file__).read_text()))
    assert section.count("```bash") == len(run_here)
    assert {match["name"] for match in BLOCK.finditer(section)} == run_here
