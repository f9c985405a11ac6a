"""Serving: `transformers serve` started by `qwen-iac serve` on the tiny merged model (the embedded model's
end-to-end run, through the DVC stage, is in test_pipeline.py), the bench client against it, the vLLM
command lines of the profiles, the systemd unit, and what happens when the server misbehaves."""

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from stages import PipelineError, bench, chat, generation, latency, params, profiles, serving
from stages.cli import app
from stages.style_tokens import style_token_ids
from tests.conftest import REPO, edit_params


def _project(root: Path, adapted: Path, merged: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(adapted / "params.yaml", root / "params.yaml")
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "splits").symlink_to(adapted / "data" / "splits")
    splits = root / "data" / "splits"  # absolute: the bench runs in the test's process, whose directory is the repo
    edit_params(root / "params.yaml", **{
        "bench.prompt_sets.short.source": str(splits / "verbosity_eval.jsonl"),
        "bench.prompt_sets.long.source": str(splits / "iac_heldout.jsonl"), "bench.style.source": str(
            splits / "verbosity_eval.jsonl"),
        "serve.model": str(merged), "serve.startup_timeout_s": 120, "bench.requests": 3, "bench.concurrency": 2,
        "bench.prompt_sets.short.max_tokens": 6, "bench.prompt_sets.long.max_tokens": 20,
        "bench.style.prompts": 3, "bench.style.max_tokens": 12})
    return root


@pytest.fixture(scope="module")
def served_model(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The tiny model as a merged directory: style tokens in the tokenizer, their rows at the seed values
    (a random adapter's style rows would win every greedy step, and its answers would be all special tokens)."""
    from stages import training

    out = tmp_path_factory.mktemp("served-model")
    tokenizer = training.load_tokenizer(tiny_model_dir, "tokens")
    model, _ = training.load_base(tiny_model_dir, tokenizer, params.load(REPO / "params.yaml").train_,
                                  training.Hardware("cpu", "none", "fp32"))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, adapted: Path, served_model: Path) -> Iterator[tuple[Path, str]]:
    """`qwen-iac serve` (transformers serve, CPU) on the tiny model, for the whole module."""
    root = _project(tmp_path_factory.mktemp("serve"), adapted, served_model)
    with serving.running(params.load(root / "params.yaml"), root / "params.yaml", root / "server.log",
                         "transformers") as server:
        yield root, server.url


def test_a_style_asked_through_the_api_is_the_training_format(served: tuple[Path, str]) -> None:
    """The server renders the style token as the one special token training used, in the model's chat
    template, and answers greedily exactly as the model does in-process."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, base_url = served
    loaded = params.load(root / "params.yaml")
    rows = list(bench.read_jsonl(root / "data/splits/verbosity_eval.jsonl"))[:2]
    tokenizer = AutoTokenizer.from_pretrained(loaded.serve.model)
    model = AutoModelForCausalLM.from_pretrained(loaded.serve.model, dtype="auto")
    for style, token_id in zip(chat.STYLE_TOKENS, style_token_ids(tokenizer), strict=True):
        conversations = [bench.messages(row, style) for row in rows]
        bodies = [bench.request_body(loaded.serve.model, c, 10, "none") for c in conversations]
        outcomes, _ = bench.asyncio.run(bench.run_set(base_url, bodies, 1, 60.0))
        for conversation, outcome in zip(conversations, outcomes, strict=True):
            ids = generation.render(tokenizer, [conversation])[0]
            assert outcome.error is None and token_id in ids and outcome.text
            assert outcome.prompt_tokens == len(ids)  # the marker is one token on the server too
            import torch

            local = model.generate(torch.tensor([ids]), max_new_tokens=10, do_sample=False)[0, len(ids):]
            assert outcome.text == tokenizer.decode(local, skip_special_tokens=True)


def test_bench_measures_every_set_with_fixed_lengths(served: tuple[Path, str]) -> None:
    root, base_url = served
    loaded = params.load(root / "params.yaml")
    result = bench.run(loaded.bench, base_url, loaded.serve.model)
    latency.finish(result, latency.Console(quiet=True), root)
    written = json.loads((root / latency.METRICS).read_text())
    assert written == json.loads(json.dumps(result)) and written["complete"] is True
    for name, expected_tokens in (("short", 6), ("long", 20)):
        metrics = written["sets"][name]
        assert (metrics["completed"], metrics["failed"], metrics["errors"]) == (3, 0, [])
        # transformers serve has no ignore_eos; its min_new_tokens holds every answer at max_tokens
        assert metrics["length_control"] == "min_new_tokens" and metrics["fixed_length"] is True
        assert metrics["total_output_tokens"] == 3 * expected_tokens
        for name_ in ("ttft", "tpot", "itl", "e2el"):
            assert 0 < metrics[f"p50_{name_}_ms"] <= metrics[f"p90_{name_}_ms"]
            assert metrics[f"mean_{name_}_ms"] > 0
        assert metrics["p90_ttft_ms"] < metrics["p50_e2el_ms"] * 2 and metrics["output_throughput"] > 0
    style = written["style"]
    assert style["prompts"] == 3 and style["failed"] == 0 and len(style["answers"]["TERSE"]) == 3
    assert "| short | p90 |" in (root / latency.REPORT).read_text()


def test_bench_cli_refuses_an_unknown_model_and_an_unreachable_endpoint(served: tuple[Path, str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root, base_url = served
    monkeypatch.chdir(root)
    (root / latency.METRICS).unlink(missing_ok=True)
    runner = CliRunner()
    unknown = runner.invoke(app, ["bench", "--url", base_url, "--model", "gpt-4o"])
    assert unknown.exit_code == 1
    assert "for model 'gpt-4o' failed: HTTP 400: Server is pinned to" in unknown.output
    port = serving.free_port("127.0.0.1")
    unreachable = runner.invoke(app, ["bench", "--url", f"http://127.0.0.1:{port}"])
    assert unreachable.exit_code == 1 and f"cannot reach http://127.0.0.1:{port}: ConnectError" in unreachable.output
    assert not (root / latency.METRICS).exists()  # refused before any measurement
    healthy = runner.invoke(app, ["health", "--url", base_url])
    assert healthy.exit_code == 0 and "healthy" in healthy.output
    down = runner.invoke(app, ["health", "--url", f"http://127.0.0.1:{port}"])
    assert down.exit_code == 1 and "is not healthy" in down.output


def test_a_server_that_dies_mid_run_leaves_partial_results_marked(tmp_path: Path, adapted: Path,
                                                                  served_model: Path) -> None:
    root = _project(tmp_path / "dying", adapted, served_model)
    loaded = params.load(root / "params.yaml")
    with serving.running(loaded, root / "params.yaml", root / "server.log", "transformers") as server:
        def kill_after_first(name: str, metrics: dict) -> None:
            if name == "short":  # the server goes away between the two sets
                serving.stop(server.process)

        result = bench.run(loaded.bench, server.url, loaded.serve.model, on_set=kill_after_first)
    with pytest.raises(PipelineError, match=r"requests failed .* marked complete: false"):
        latency.finish(result, latency.Console(quiet=True), root)
    written = json.loads((root / latency.METRICS).read_text())
    assert written["complete"] is False
    assert written["sets"]["short"]["completed"] == 3
    assert written["sets"]["long"]["failed"] == 3 and written["sets"]["long"]["errors"][0]["count"] == 3
    assert "ConnectError" in written["sets"]["long"]["errors"][0]["error"]
    assert "**no**" in (root / latency.REPORT).read_text()


class _Misbehaving(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that answers as `mode` says: "plain" ignores `stream: true` and sends one
    JSON body; "garbled" streams the first answer properly and then an error line with an unescaped quote,
    as transformers serve writes them; "slow" streams a token every 0.2 s for 10 s."""

    mode = "plain"
    answered = 0

    def do_GET(self) -> None:
        self._send("application/json", json.dumps({"object": "list", "data": [{"id": "fake"}]}).encode())

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).answered += 1
        token = 'data: {"choices": [{"delta": {"content": "hi"}, "index": 0}]}\n\n'
        end = ('data: {"choices": [{"delta": {}, "index": 0, "finish_reason": "length"}], '
               '"usage": {"prompt_tokens": 5, "completion_tokens": 1}}\n\ndata: [DONE]\n\n')
        if self.mode == "plain":
            self._send("application/json", json.dumps({"choices": [{"message": {"content": "hi"}}]}).encode())
        elif self.mode == "garbled":
            self._send("text/event-stream", (token + end if self.answered == 1 else
                                             'data: {"error": "no "model" here"}\n\n').encode())
        else:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(token.encode())
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):  # the bench gave up, as it should: no traceback
                return

    def _send(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def misbehaving() -> Iterator[Callable[[str], str]]:
    """Starts a _Misbehaving server in a mode; returns its URL."""
    servers = []

    def start(mode: str) -> str:
        handler = type(f"_{mode.title()}", (_Misbehaving,), {"mode": mode, "answered": 0})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()  # waits for its request threads, so none writes into a later test's output


def _bench_params(tmp_path: Path, **sources: str) -> params.BenchParams:
    """The repository's bench params with prompts from a small JSONL (a clean clone has no data/splits/)."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"instruction": "What does terraform plan do?", "input": ""}) + "\n")
    bench_params = params.load(REPO / "params.yaml").bench
    for prompt_set in bench_params.prompt_sets.values():
        prompt_set.source = str(prompts)
    bench_params.style.source = str(prompts)
    for name, source in sources.items():
        bench_params.prompt_sets[name].source = source
    return bench_params


def test_a_server_that_does_not_stream_is_refused_with_the_reason(tmp_path: Path,
                                                                  misbehaving: Callable[[str], str]) -> None:
    with pytest.raises(PipelineError, match=r"answered without streaming \(content-type application/json\)"):
        bench.run(_bench_params(tmp_path), misbehaving("plain"), "fake")


def test_garbled_stream_lines_are_counted_as_errors_and_the_results_kept(tmp_path: Path,
                                                                         misbehaving: Callable[[str], str]) -> None:
    bench_params = _bench_params(tmp_path)
    bench_params.style.prompts = 0
    result = bench.run(bench_params, misbehaving("garbled"), "fake")  # the first request (the check) was fine
    assert result["complete"] is False and result["sets"]["short"]["failed"] == bench_params.requests
    assert "not a JSON object" in result["sets"]["short"]["errors"][0]["error"]
    with pytest.raises(PipelineError, match="marked complete: false"):
        latency.finish(result, latency.Console(quiet=True), tmp_path)
    assert json.loads((tmp_path / latency.METRICS).read_text())["sets"]["long"]["completed"] == 0


def test_bench_timeout_covers_the_whole_streamed_answer(tmp_path: Path, misbehaving: Callable[[str], str]) -> None:
    bench_params = _bench_params(tmp_path)
    bench_params.timeout_s = 1.0  # the server sends a token every 0.2 s: no read ever waits a second
    with pytest.raises(PipelineError, match=r"no complete answer within bench.timeout_s 1.0 s"):
        bench.run(bench_params, misbehaving("slow"), "fake")


def test_a_missing_prompt_file_is_named_before_any_request(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(PipelineError, match=r"bench.prompt_sets.long.source: .*nowhere.jsonl not found"):
        bench.run(_bench_params(tmp_path, long=str(missing)), "http://127.0.0.1:9", "any")


@pytest.mark.parametrize("hardware", ["a10g-24gb", "gpu-80gb"])
def test_vllm_command_of_each_profile_is_the_one_the_readme_shows(tmp_path: Path, hardware: str) -> None:
    shutil.copyfile(REPO / "params.yaml", tmp_path / "params.yaml")
    for name in ("qwen3-14b", hardware):
        profiles.apply(name, tmp_path / "params.yaml", REPO / "profiles")
    loaded = params.load(tmp_path / "params.yaml")
    argv = serving.command(loaded, serving.engine(loaded.serve))
    flags = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert argv[:3] == ["vllm", "serve", {"a10g-24gb": "models/awq", "gpu-80gb": "models/merged"}[hardware]]
    assert flags["--served-model-name"] == "qwen-iac" and flags["--dtype"] == "auto"
    assert flags["--max-model-len"] == {"a10g-24gb": "8192", "gpu-80gb": "32768"}[hardware]
    assert flags["--tensor-parallel-size"] == "1"
    assert json.loads(flags["--default-chat-template-kwargs"]) == {"enable_thinking": False}
    import shlex

    assert shlex.join(argv) in (REPO / "README.md").read_text().replace("\\\n    ", "")
    printed = CliRunner().invoke(app, ["serve", "--print-command", "--params", str(tmp_path / "params.yaml")])
    assert printed.exit_code == 0 and printed.output.strip() == shlex.join(argv)


def test_runtime_lora_only_for_adapters_without_new_tokens(tmp_path: Path, adapted: Path) -> None:
    loaded = params.load(REPO / "params.yaml")
    with_tokens = str(adapted / "models/complete_adapter")
    loaded.serve.adapter = with_tokens
    with pytest.raises(PipelineError, match=r"cannot serve .* as runtime LoRA: it trains token rows .*Serve the "
                                            r"merged model instead .* or train with train.style_markers: text"):
        serving.command(loaded, "vllm")
    with pytest.raises(PipelineError, match="runtime LoRA needs vLLM"):
        serving.command(loaded, "transformers")
    text_markers = tmp_path / "text_adapter"
    shutil.copytree(with_tokens, text_markers)
    config = json.loads((text_markers / "adapter_config.json").read_text())
    (text_markers / "adapter_config.json").write_text(json.dumps({**config, "trainable_token_indices": None}))
    loaded.serve.adapter = str(text_markers)
    argv = serving.command(loaded, "vllm")
    assert argv[2] == "models/base" and "--enable-lora" in argv
    assert argv[argv.index("--lora-modules") + 1] == f"qwen-iac={text_markers}"
    assert argv[argv.index("--max-lora-rank") + 1] == "16"
    (text_markers / "adapter_config.json").write_text(json.dumps({**config, "trainable_token_indices": None, "r": 40}))
    assert serving.command(loaded, "vllm")[-1] == "64"  # the next rank vLLM accepts


def test_systemd_unit_from_params(tmp_path: Path) -> None:
    loaded = params.load(REPO / "params.yaml")
    unit = serving.render_unit(loaded, REPO / "params.yaml")
    directives = dict(line.split("=", 1) for line in unit.splitlines() if re.match(r"^[A-Z]\w+=", line))
    assert (directives["Restart"], directives["RestartSec"]) == ("always", "5")
    assert directives["WorkingDirectory"] == str(REPO)
    assert directives["EnvironmentFile"] == "-/etc/qwen-iac/serve.env" and directives["User"] == "qwen-iac"
    assert directives["ExecStart"].endswith(f"/qwen-iac serve --params {REPO}/params.yaml")
    assert directives["ExecStartPost"].endswith(f"/qwen-iac health --params {REPO}/params.yaml --wait 600")
    assert (directives["CacheDirectory"], directives["Environment"]) == ("qwen-iac", "HOME=/var/cache/qwen-iac")
    assert "@" not in unit.replace("@unit_name@", "")  # every placeholder filled
    printed = CliRunner().invoke(app, ["deploy", "--print-unit", "--params", str(REPO / "params.yaml")])
    assert printed.exit_code == 0 and "Restart=always" in printed.output
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the unit's syntax was not checked by systemd")
    path = tmp_path / "qwen-iac.service"
    path.write_text(unit)
    checked = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
    # Warnings about other units of this host are not the unit's; its own name the file.
    assert checked.returncode == 0 and str(path) not in checked.stderr + checked.stdout, checked.stderr


def test_bad_serve_params_name_the_key_and_the_allowed_values(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["serve"]["engine"] = "tgi"
    raw["bench"]["length_control"] = "stop"
    with pytest.raises(PipelineError) as refused:
        params.parse(raw)
    assert "serve.engine: Input should be 'auto', 'vllm' or 'transformers'" in str(refused.value)
    assert "bench.length_control: Input should be 'auto', 'ignore_eos', 'min_new_tokens' or 'none'" in str(
        refused.value)
