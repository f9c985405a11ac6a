"""The DVC remote as a user meets it. `dvc push` against a missing bucket, refused credentials or an
unreachable endpoint ends in "unexpected error - Forbidden" and names neither the remote nor what to fix.
`check` asks the remote once, through DVC's own filesystem for it (so the same config, `--local` file and
environment apply), and turns each failure into one message that does; `transfer` is DVC's push or pull
after that check. Credentials belong in `.dvc/config.local` or the environment: a tracked
config holding one is refused before anything is sent."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stages import PipelineError

# The keys of DVC's remote config schema (dvc/config_schema.py) that hold secrets, for every remote type.
SECRET_KEYS = ("access_key_id", "secret_access_key", "session_token", "password", "passphrase", "token",
               "account_key", "sas_token", "connection_string", "client_secret", "oss_key_secret",
               "gdrive_client_secret")


@dataclass(frozen=True)
class Remote:
    name: str
    url: str
    endpoint: str | None  # S3: where requests go (the endpointurl, AWS_ENDPOINT_URL(_S3), or AWS's own)

    def __str__(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"DVC remote '{self.name}' ({self.url}{where})"


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
    """Ask the remote once (S3: list one key under its prefix); raise PipelineError naming the remote and
    what to check when it cannot be used."""
    from dvc.config import RemoteConfigError
    from dvc.repo import Repo

    refuse_tracked_secrets(root)
    with Repo(root) as repo:
        try:
            dvc_remote = repo.cloud.get_remote(name)
        except RemoteConfigError as exc:  # no default remote, or no remote of that name
            configured = ", ".join(repo.config.get("remote", {})) or "none"
            raise PipelineError(f"{exc} (configured remotes: {configured}); add one with "
                                "`dvc remote add -d NAME s3://BUCKET/PREFIX`") from None
        filesystem, path = dvc_remote.fs, dvc_remote.path
        url = repo.config["remote"][dvc_remote.name]["url"]
        if filesystem.protocol != "s3":  # other remotes: one request, whatever it raises told as it is
            try:
                filesystem.exists(path)
            except Exception as exc:
                raise PipelineError(f"{Remote(dvc_remote.name, url, None)}: {exc}") from None
            return Remote(dvc_remote.name, url, None)
        checked = Remote(dvc_remote.name, url, _endpoint(filesystem))
        _check_s3(checked, filesystem, *path.partition("/")[::2])
        return checked


def _endpoint(filesystem: Any) -> str:
    """Where S3 requests go: the remote's endpointurl, else the environment's, else AWS's own."""
    configured = filesystem.fs_args.get("client_kwargs", {}).get("endpoint_url")
    return (configured or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
            or "AWS's endpoint")


def _check_s3(remote: Remote, filesystem: Any, bucket: str, prefix: str) -> None:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    name = remote.name
    try:  # what DVC itself needs: listing under the prefix (HeadBucket is refused by prefix-scoped policies)
        filesystem.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1)  # .fs: the client
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
    except ValueError as exc:  # botocore: "Invalid endpoint: localhost:9000"
        problem = (f"{exc}. The remote's endpointurl (`dvc remote modify --local {name} endpointurl URL`) or "
                   "AWS_ENDPOINT_URL_S3 must be a URL with its scheme, e.g. http://host:9000")
    except Exception as exc:  # anything else botocore or s3fs raises: still one line, with its cause
        problem = f"{type(exc).__name__}: {exc}"
    raise PipelineError(f"{remote}: {problem}")


def transfer(direction: Literal["push", "pull"], root: Path, targets: Sequence[str], name: str | None = None,
             jobs: int | None = None) -> object:
    """`dvc push TARGETS` or `dvc pull TARGETS` after the check; DVC's own return value (files sent, or what
    was fetched and checked out). Checked first because DVC's pull asks the remote even when the cache holds
    everything, and spends a minute of retries on an unreachable endpoint before its unclear message."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    checked = check(root, name)
    with Repo(root) as repo:
        try:
            return getattr(repo, direction)(targets=list(targets) or None, remote=checked.name, jobs=jobs)
        except DvcException as exc:
            raise PipelineError(f"{checked}: dvc {direction} failed: {exc}") from None
