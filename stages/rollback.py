"""Roll the served models back to a release: the two commands DVC's versioning rests on,
`git checkout TAG -- dvc.lock` and `dvc pull <every artifact in dvc.yaml>`, with the checks that make them
safe. The git history is kept: the rollback is a change of dvc.lock the user commits (and a later
`dvc repro`, or a rollback to the newer tag, rolls forward). Nothing is lost: a dvc.lock with uncommitted
changes is refused, so is a model changed in the workspace since dvc.lock recorded it; what the cache lacks
is fetched before any model is touched, and a failed fetch puts dvc.lock back as it was."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from stages import PipelineError, remote


@dataclass(frozen=True)
class Change:
    artifact: str
    path: str
    before: str | None  # the directory's DVC hash in dvc.lock before the rollback
    after: str


def artifacts(root: Path = Path(".")) -> dict[str, str]:
    """The `artifacts:` of the root dvc.yaml, as DVC reads them: name -> path."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {name: artifact.path for name, artifact in repo.artifacts.read().get("dvc.yaml", {}).items()}


def output_hashes(lock_text: str) -> dict[str, str]:
    """Every output path in a dvc.lock -> its md5 (a directory's ends in .dir)."""
    lock = yaml.safe_load(lock_text) or {}
    return {out["path"]: out["md5"] for stage in (lock.get("stages") or {}).values()
            for out in stage.get("outs", []) if "md5" in out}


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def _resolve(root: Path, tag: str) -> str:
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}")
    if found.returncode != 0:
        tags = _git(root, "tag", "--list", "--sort=-creatordate").stdout.split()
        raise PipelineError(f"no git tag or revision {tag!r} here; tags: {', '.join(tags[:10]) or 'none'} "
                            "(fetch them with `git fetch --tags`)")
    return found.stdout.strip()


def _outputs_in_state(root: Path, paths: list[str], state: str) -> list[str]:
    """The paths DVC's status reports in `state` against dvc.lock: "modified" (the workspace copy differs),
    "not in cache" (the version dvc.lock names is not in the local cache)."""
    from dvc.repo import Repo

    with Repo(root) as repo:
        status = repo.status(targets=paths)
    return sorted({path for entries in status.values() for entry in entries if isinstance(entry, dict)
                   for path, found in entry.get("changed outs", {}).items() if found == state})


def _fetch_then_checkout(root: Path, paths: list[str], remote_name: str | None) -> None:
    """The versions dvc.lock now names into the cache first (from the remote, only when the cache lacks them:
    a rollback is often an incident, with the remote down), then into the workspace. A failed fetch leaves
    the workspace as it was; DVC's checkout would delete the copies it cannot replace."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    missing = _outputs_in_state(root, paths, "not in cache")
    with Repo(root) as repo:
        try:
            if missing:
                checked = remote.check(root, remote_name)
                repo.fetch(targets=missing, remote=checked.name)
            repo.checkout(targets=paths)
        except DvcException as exc:
            raise PipelineError(f"restoring {' '.join(paths)} failed: {exc}") from None


def run(tag: str, root: Path = Path("."), remote_name: str | None = None) -> list[Change]:
    """Put every artifact of dvc.yaml back to its version at TAG: TAG's dvc.lock, then the artifacts (fetched
    first where the cache lacks them); the changes, artifact by artifact."""
    commit = _resolve(root, tag)
    if _git(root, "status", "--porcelain", "--", "dvc.lock").stdout.strip():
        raise PipelineError("dvc.lock has uncommitted changes, which a rollback would replace: commit or stash "
                            "them first")
    named = artifacts(root)
    if not named:
        raise PipelineError("dvc.yaml has no `artifacts:` section naming what a rollback restores")
    shown = _git(root, "show", f"{commit}:dvc.lock")
    if shown.returncode != 0:
        raise PipelineError(f"{tag} has no dvc.lock: its pipeline never ran, so it holds no model versions")
    if not (root / "dvc.lock").exists():
        raise PipelineError("no dvc.lock here: run the pipeline (dvc repro) or check out a release first")
    at_tag, now = output_hashes(shown.stdout), output_hashes((root / "dvc.lock").read_text(encoding="utf-8"))
    missing = [path for path in named.values() if path not in at_tag]
    if missing:
        raise PipelineError(f"{tag}'s dvc.lock has no {', '.join(missing)}: that release predates them")
    if changed := _outputs_in_state(root, list(named.values()), "modified"):
        listed = " ".join(changed)
        raise PipelineError(f"{listed} differ from what dvc.lock records, and a rollback would replace them: "
                            f"keep the change with `dvc commit {listed}` or drop it with `dvc checkout {listed}`")
    restore = _git(root, "checkout", commit, "--", "dvc.lock")
    if restore.returncode != 0:
        raise PipelineError(f"git checkout {tag} -- dvc.lock failed: {restore.stderr.strip()}")
    try:
        _fetch_then_checkout(root, list(named.values()), remote_name)
    except BaseException:
        _git(root, "checkout", "HEAD", "--", "dvc.lock")
        raise
    return [Change(name, path, now.get(path), at_tag[path]) for name, path in named.items()]
