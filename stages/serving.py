"""Serving (DESIGN.md decision 9): the command line of the OpenAI-compatible server for the merged or AWQ
model, the systemd unit that keeps it running, and its health check.

vLLM serves on a GPU. It cannot load a LoRA adapter that adds tokens (vLLM >= 0.12 dropped extra-vocab LoRA
and refuses trainable-token weights), so runtime LoRA is offered only for adapters trained with plain-text
markers; anything else is served merged. Without vLLM (the embedded default, CPU) `transformers serve` runs
the same API. Both render prompts with the model's own chat template, thinking off, as training did."""

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, NamedTuple

import httpx

from stages import PipelineError
from stages.params import Params, ServeParams

Engine = Literal["vllm", "transformers"]
UNIT_TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "qwen-iac.service.in"
# Training renders Qwen3's template with thinking off (an empty think block); the server must render the same.
CHAT_TEMPLATE_KWARGS = json.dumps({"enable_thinking": False})


def engine(serve: ServeParams) -> Engine:
    if serve.engine != "auto":
        return serve.engine
    import torch

    return "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"


def choose(serve: ServeParams, override: str | None) -> Engine:
    """serve.engine, or the command line's --engine."""
    if override is None:
        return engine(serve)
    if override not in ("vllm", "transformers"):
        raise PipelineError(f"--engine: {override!r} is not one of: vllm, transformers")
    return override  # type: ignore[return-value]  # checked above


def served_name(serve: ServeParams, chosen: Engine) -> str:
    """The `model` a client sends: transformers serve is pinned to the directory it loaded."""
    return serve.served_model_name if chosen == "vllm" else serve.model


def url(serve: ServeParams) -> str:
    return f"http://{serve.host}:{serve.port}"


VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # what vLLM's --max-lora-rank accepts


def refuse_runtime_lora(adapter_dir: Path) -> int:
    """vLLM serves LoRA weights on the base's own vocabulary only. Returns the --max-lora-rank the adapter
    needs: its rank, rounded up to one vLLM accepts."""
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.exists():
        raise PipelineError(f"serve.adapter: {adapter_dir} has no adapter_config.json (not a PEFT adapter)")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    reasons = []
    if config.get("trainable_token_indices"):
        reasons.append(f"it trains token rows {config['trainable_token_indices']} (the <STYLE_*> tokens)")
    saved = [m for m in config.get("modules_to_save") or [] if "embed" in m or "lm_head" in m]
    if saved:
        reasons.append(f"it saves whole modules {saved}")
    if reasons:
        raise PipelineError(
            f"serve.adapter: vLLM cannot serve {adapter_dir} as runtime LoRA: {'; '.join(reasons)}, and vLLM "
            "loads LoRA only on the base's own vocabulary. Serve the merged model instead (serve.adapter: null, "
            "serve.model: models/merged or models/awq), or train with train.style_markers: text for runtime LoRA.")
    return next(rank for rank in VLLM_LORA_RANKS if rank >= config["r"])


def command(params: Params, chosen: Engine, port: int | None = None) -> list[str]:
    """The server's argv, from params; `port` overrides serve.port (the latency stage takes a free one)."""
    serve = params.serve
    port = serve.port if port is None else port
    if chosen == "transformers":
        if serve.adapter:
            raise PipelineError("serve.adapter: runtime LoRA needs vLLM (serve.engine: vllm on a GPU machine); "
                                "transformers serve loads one model: serve the merged one (serve.adapter: null)")
        return ["transformers", "serve", serve.model, "--host", serve.host, "--port", str(port),
                "--dtype", serve.dtype, "--chat-template-kwargs", CHAT_TEMPLATE_KWARGS]
    # Runtime LoRA rides on the base model, and requests name the adapter.
    model, name = ("models/base", "base") if serve.adapter else (serve.model, serve.served_model_name)
    argv = ["vllm", "serve", model, "--served-model-name", name, "--host", serve.host, "--port", str(port),
            "--dtype", serve.dtype, "--max-model-len", str(serve.max_model_len),
            "--tensor-parallel-size", str(serve.tensor_parallel_size),
            "--gpu-memory-utilization", str(serve.gpu_memory_utilization),
            "--default-chat-template-kwargs", CHAT_TEMPLATE_KWARGS]
    if serve.adapter:
        rank = refuse_runtime_lora(Path(serve.adapter))
        argv += ["--enable-lora", "--lora-modules", f"{serve.served_model_name}={serve.adapter}",
                 "--max-lora-rank", str(rank)]
    return argv


def check_model(serve: ServeParams, root: Path = Path(".")) -> None:
    model_dir = root / ("models/base" if serve.adapter else serve.model)
    if not (model_dir / "config.json").exists():
        raise PipelineError(f"serve.model: {model_dir} holds no model (no config.json); build it with "
                            f"`dvc repro` or fetch it with `qwen-iac pull {model_dir}`")


def executable(serve: ServeParams, argv: list[str]) -> str:
    """The server program, from this environment first: the unit's PATH may not hold the virtual environment."""
    check_model(serve)
    found = shutil.which(argv[0], path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise PipelineError(f"{argv[0]} is not installed (serve.engine: {serve.engine}; vLLM needs a GPU machine)")
    return found


def render_unit(params: Params, params_file: Path) -> str:
    """The systemd unit: `qwen-iac serve` from this virtual environment, restarted whenever it stops, ready
    only once the health check passes, secrets from the environment file."""
    serve = params.serve
    qwen_iac = Path(sys.executable).parent / "qwen-iac"
    values = {
        "unit_name": serve.deploy.unit_name,
        "model": serve.model,
        "user": serve.deploy.user,
        "working_directory": serve.deploy.working_directory or str(params_file.resolve().parent),
        "params_file": str(Path(serve.deploy.working_directory) / "params.yaml") if serve.deploy.working_directory
        else str(params_file.resolve()),
        "environment_file": serve.deploy.environment_file,
        "path": f"{qwen_iac.parent}:/usr/local/bin:/usr/bin:/bin",
        "qwen_iac": str(qwen_iac),
        "startup_timeout_s": str(serve.startup_timeout_s),
        "start_timeout_s": str(serve.startup_timeout_s + 30),
    }
    text = UNIT_TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def health(base_url: str, wait_s: float = 0.0, process: subprocess.Popen | None = None) -> list[dict]:
    """GET /health until it answers 200 (at most wait_s); returns the model ids /v1/models lists, if it lists
    any. Raises with the reason when the server is not up, or when `process` (a server being started) exits."""
    deadline = time.monotonic() + wait_s
    while True:
        if process is not None and process.poll() is not None:
            raise PipelineError(f"the server exited with status {process.returncode} before it was ready")
        try:
            httpx.get(f"{base_url}/health", timeout=5.0).raise_for_status()
            return listed_models(base_url)
        except httpx.HTTPError as exc:
            if time.monotonic() >= deadline:
                raise PipelineError(f"{base_url} is not healthy: {exc.__class__.__name__}: {exc}") from None
        time.sleep(1.0)


def listed_models(base_url: str) -> list[dict]:
    """The entries of /v1/models (id, owned_by, ...); empty when it cannot say (transformers serve lists the
    hub cache, and fails without one). A connection error is raised: the server is not there."""
    try:
        answer = httpx.get(f"{base_url}/v1/models", timeout=30.0)
        entries = answer.json()["data"] if answer.status_code == 200 else []
    except (ValueError, KeyError, TypeError):
        return []
    return [entry for entry in entries if isinstance(entry, dict) and "id" in entry]


def free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Server(NamedTuple):
    url: str
    process: subprocess.Popen


def _exit_on(signal_number: int, frame: object) -> None:
    raise SystemExit(128 + signal_number)  # unwinds through running()'s finally, which stops the server


@contextmanager
def running(params: Params, params_file: Path, log_path: Path, chosen: Engine) -> Iterator[Server]:
    """`qwen-iac serve` with params_file, in its directory, on a free port, for the duration of the block. The
    server's output goes to log_path, whose tail is in the error when it fails to start. SIGTERM and SIGHUP
    stop it too: it runs in its own session, out of reach of signals sent to ours."""
    root = params_file.resolve().parent
    check_model(params.serve, root)
    port = free_port(params.serve.host)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    previous = {number: signal.signal(number, _exit_on) for number in (signal.SIGTERM, signal.SIGHUP)}
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", "stages.cli", "serve", "--params", str(params_file.resolve()),
                                    "--port", str(port), "--engine", chosen], stdout=log, stderr=subprocess.STDOUT,
                                   cwd=root, start_new_session=True)
        base_url = f"http://{params.serve.host}:{port}"
        try:
            try:
                health(base_url, params.serve.startup_timeout_s, process)
            except PipelineError as exc:
                tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
                raise PipelineError(f"{exc}\n{log_path} ends with:\n{tail}") from None
            yield Server(base_url, process)
        finally:
            stop(process)
            for number, handler in previous.items():
                signal.signal(number, handler)


def stop(process: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGTERM to the server's whole process group (vLLM's workers may outlive their parent), SIGKILL to
    what is left of it after the grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        process.poll()
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        process.poll()  # reaps the leader: a zombie would keep the group alive
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
