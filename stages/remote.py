"""The DVC remote as a user meets it. `dvc push` against a missing bucket, refused credentials or an
unreachable endpoint ends in "unexpected error - Forbidden" and names neither the remote nor what to fix.
`check` asks the remote once, through DVC's own filesystem for it (so the same config, `--local` file and
environment apply), and turns each failure into one message that does; `transfer` is DVC's push or pull
after that check. Credentials belong in `.dvc/config.local` or the environment: a tracked
config holding one is refused before anything is sent."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stages import PipelineError

# dvc-s3's (and the other cloud remotes') config keys that hold secrets.
SECRET_KEYS = ("access_key_id", "secret_access_key", "session_token", "password", "account_key", "sas_token",
               "connection_string", "gdrive_client_secret", "key_secret")


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    endpoint: str  # where requests go: the endpointurl, AWS_ENDPOINT_URL(_S3), or AWS's own

    def __str__(self) -> str:
        return f"DVC remote '{self.name}' ({self.url} at {self.endpoint})"


def tracked_secrets(root: Path = Path(".")) -> list[str]:
    """`remote.KEY` for every secret in the tracked `.dvc/config` (the `--local` file is git-ignored)."""
    from dvc.config import Config

    config = Config(dvc_dir=root / ".dvc", validate=False).load_one("repo")
    return [f"{name}.{key}" for name, settings in config.get("remote", {}).items()
            for key in SECRET_KEYS if key in settings]


def refuse_tracked_secrets(root: Path = Path(".")) -> None:
    if secrets := tracked_secrets(root):
        raise PipelineError(
            f"credentials in the tracked .dvc/config ({', '.join(secrets)}): move each to the git-ignored "
            "local file with `dvc remote modify --local REMOTE KEY VALUE`, remove it with `dvc remote modify "
            "--unset REMOTE KEY`, and rotate any key that was ever committed")


def check(root: Path = Path("."), name: str | None = None) -> Remote:
    """Ask the remote once (S3: HeadBucket on its bucket); raise PipelineError naming the remote and what
    to check when it cannot be used."""
    from dvc.config import NoRemoteError
    from dvc.repo import Repo

    refuse_tracked_secrets(root)
    with Repo(root) as repo:
        try:
            dvc_remote = repo.cloud.get_remote(name)
        except NoRemoteError as exc:
            configured = ", ".join(repo.config.get("remote", {})) or "none"
            raise PipelineError(f"{exc} (configured remotes: {configured}); add one with "
                                "`dvc remote add -d NAME s3://BUCKET/PREFIX`") from None
        filesystem, path = dvc_remote.fs, dvc_remote.path
        url = repo.config["remote"][dvc_remote.name]["url"]
        if filesystem.protocol == "s3":
            _check_s3(dvc_remote.name, url, filesystem.fs, path.split("/")[0])
        else:
            try:
                filesystem.exists(path)
            except Exception as exc:  # any failure here is the remote's: told with its cause
                raise PipelineError(f"DVC remote '{dvc_remote.name}' ({url}): {exc}") from None
        return Remote(dvc_remote.name, url, _endpoint(filesystem.fs))


def _endpoint(s3: object) -> str:
    client = getattr(s3, "_s3", None) or getattr(s3, "s3", None)
    return getattr(getattr(client, "meta", None), "endpoint_url", None) or "the default endpoint"


def _check_s3(name: str, url: str, s3: object, bucket: str) -> None:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    try:
        s3.call_s3("head_bucket", Bucket=bucket)  # type: ignore[attr-defined]
        return
    except FileNotFoundError:
        problem = (f"bucket '{bucket}' does not exist. Check the bucket in the remote's url (`dvc remote modify "
                   f"{name} url s3://BUCKET/PREFIX`) and the endpoint, or create the bucket")
    except PermissionError:
        problem = ("the credentials were refused (403). Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or "
                   f"AWS_PROFILE, or the keys set with `dvc remote modify --local {name} access_key_id ...`; "
                   f"they also need s3:ListBucket on '{bucket}'")
    except (NoCredentialsError, PartialCredentialsError):
        problem = ("no credentials found. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in "
                   f"the environment, or `dvc remote modify --local {name} access_key_id ...` and "
                   "`secret_access_key ...` (always --local: .dvc/config is tracked)")
    except (EndpointConnectionError, ConnectionError, TimeoutError) as exc:
        problem = (f"the endpoint cannot be reached ({exc}). Check the network, the remote's endpointurl "
                   f"(`dvc remote modify --local {name} endpointurl URL`) or AWS_ENDPOINT_URL_S3")
    except Exception as exc:  # anything else botocore or s3fs raises: still one line, with its cause
        problem = f"{type(exc).__name__}: {exc}"
    raise PipelineError(f"{Remote(name, url, _endpoint(s3))}: {problem}")


def transfer(direction: Literal["push", "pull"], root: Path, targets: Sequence[str], name: str | None = None,
             jobs: int | None = None) -> object:
    """`dvc push TARGETS` or `dvc pull TARGETS` after the check (one request: DVC's pull asks the remote
    even when the cache holds everything, and an unreachable endpoint would cost it a minute of retries);
    DVC's own return value: files sent, or a summary of what was fetched and checked out."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    checked = check(root, name)
    with Repo(root) as repo:
        try:
            return getattr(repo, direction)(targets=list(targets) or None, remote=checked.name, jobs=jobs)
        except DvcException as exc:
            raise PipelineError(f"{checked}: dvc {direction} failed: {exc}") from None
