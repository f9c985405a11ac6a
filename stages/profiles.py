"""Profiles: overlays in profiles/<name>.yaml merged into params.yaml for real hardware. The merge keeps
params.yaml's comments (ruamel round-trip) and is checked against the schema before anything is written."""

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from stages import PipelineError, params

PROFILES_DIR = Path("profiles")


def available(directory: Path = PROFILES_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yaml"))


def _merge(target: Any, overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def apply(name: str, params_path: Path = Path("params.yaml"), directory: Path = PROFILES_DIR) -> list[str]:
    """Merge the profile into params.yaml; return the dotted keys it set."""
    profile_path = directory / f"{name}.yaml"
    if not profile_path.exists():
        raise PipelineError(f"no profile {name!r}; available: {', '.join(available(directory)) or 'none'}")
    yaml = YAML()
    yaml.preserve_quotes = True
    document = yaml.load(params_path.read_text(encoding="utf-8"))
    overlay = YAML(typ="safe").load(profile_path.read_text(encoding="utf-8")) or {}
    _merge(document, overlay)
    params.parse(json.loads(json.dumps(document)), f"{params_path} with profile {name}")
    with params_path.open("w", encoding="utf-8") as handle:
        yaml.dump(document, handle)
    return _dotted_keys(overlay)


def _dotted_keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        if isinstance(value, dict):
            keys += _dotted_keys(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys
