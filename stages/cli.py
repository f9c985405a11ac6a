"""The `qwen-iac` command line: one subcommand per DVC stage. dvc.yaml calls these from the repository
root; each reads params.yaml first and refuses a bad one before doing any work."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from stages import PipelineError

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_show_locals=False)
console = Console(stderr=True, soft_wrap=True)
ParamsFile = Annotated[Path, typer.Option("--params", help="parameters file")]
RemoteName = Annotated[str | None, typer.Option("--remote", "-r", help="a DVC remote (default: core.remote)")]
Targets = Annotated[list[str] | None, typer.Argument(help="outputs, stages or artifacts' paths (default: all)")]
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", help="parallel transfers (DVC's default: 4 x cores)")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """A PipelineError is for the user: its message, no traceback, exit status 1."""
    try:
        yield
    except PipelineError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None


def _run(stage: Callable[..., Any], params_file: Path, *args: Any) -> None:
    from stages import params

    with _user_errors():
        stage(params.load(params_file), *args, console=console)


@app.command("params")
def check_params(params_file: ParamsFile = Path("params.yaml")) -> None:
    """Check params.yaml against the schema. Reads: params.yaml. Writes: nothing."""
    _run(lambda p, console: console.print("params.yaml is valid"), params_file)


@app.command("profile")
def profile(
    name: Annotated[str | None, typer.Argument(help="a file name in profiles/, without .yaml")] = None,
    params_file: ParamsFile = Path("params.yaml"),
) -> None:
    """Merge profiles/NAME.yaml into params.yaml, checked against the schema first; without NAME, list the
    profiles. Reads: profiles/NAME.yaml, params.yaml. Writes: params.yaml (comments kept)."""
    from stages import profiles

    if name is None:
        console.print("profiles: " + ", ".join(profiles.available()))
        return
    with _user_errors():
        keys = profiles.apply(name, params_file)
    console.print(f"{params_file}: profile {name} set {', '.join(keys)}")


@app.command("base_model")
def base_model(params_file: ParamsFile = Path("params.yaml")) -> None:
    """Resolve model.base (hub id@revision, local dir, .gguf, or pkg:<module>/<file>.gguf) into Hugging Face
    layout. Reads: params.yaml `model`. Writes: models/base/, metrics/base_model.json."""
    from stages import base_model as stage

    _run(stage.run, params_file)


@app.command("validate")
def validate(
    source: Annotated[str, typer.Argument(help="a source under validate.sources: verbosity or iac")],
    params_file: ParamsFile = Path("params.yaml"),
) -> None:
    """Check one raw corpus with great-expectations. Reads: the source's raw JSONL, models/base/ (tokenizer).
    Writes: data/validated/SOURCE.jsonl, data/rejected/SOURCE.jsonl (every refused row with its reasons),
    metrics/data_SOURCE.json, reports/data_docs/SOURCE/ (Data Docs HTML). Fails when the reject rate is
    above validate.max_reject_rate, after writing everything."""
    from stages import validate as stage

    _run(stage.run, params_file, source)


@app.command("split")
def split(params_file: ParamsFile = Path("params.yaml")) -> None:
    """Seeded, stratified, leakage-checked split. Reads: data/validated/{verbosity,iac}.jsonl. Writes:
    data/splits/{stage1_train,stage1_eval,stage2_train,verbosity_eval,iac_heldout,purged}.jsonl,
    metrics/split.json."""
    from stages import split as stage

    _run(stage.run, params_file)


@app.command("train")
def train(
    stage: Annotated[str, typer.Argument(help="train_stage1 or train_stage2")],
    params_file: ParamsFile = Path("params.yaml"),
    print_command: Annotated[bool, typer.Option("--print-command", help="show the launch command, train nothing")]
    = False,
) -> None:
    """LoRA (CPU) or QLoRA (CUDA) with the style tokens. train_stage1 reads models/base/ and
    data/splits/stage1_{train,eval}.jsonl and writes models/stage1_adapter/; train_stage2 continues that
    adapter on data/splits/stage2_train.jsonl (IaC plus replay), evaluates on iac_heldout.jsonl and writes
    models/complete_adapter/. Both write metrics/STAGE.json and reports/curves/STAGE/ (loss and learning-rate
    curves), and checkpoint into checkpoints/STAGE/ every save_steps: a rerun resumes from the last one.
    With train.distributed.processes above 1 the command runs itself under `accelerate launch`, one process
    per GPU, and process 0 writes."""
    import os
    import shlex

    from stages import distributed, params, training
    from stages import train as stage_module

    if stage not in ("train_stage1", "train_stage2"):
        console.print(f"[bold red]error:[/] unknown stage {stage!r} (allowed: train_stage1, train_stage2)")
        raise typer.Exit(2)
    with _user_errors():
        loaded = params.load(params_file)
        settings = loaded.train_.distributed
        if settings.processes > 1 and distributed.world_size() == 1:
            distributed.check(settings, loaded.train_.quantization)
            distributed.per_process_batch(loaded.train(stage), settings, stage)  # refused here, not N times
            hardware = training.choose_hardware(loaded.train_)
            argv = distributed.launch_command(settings, stage, params_file, hardware.precision,
                                              gpus=hardware.device == "cuda")
            if print_command:
                typer.echo(shlex.join(argv))
                return
            console.print(shlex.join(argv), markup=False, highlight=False)
            os.execv(argv[0], argv)  # DVC and a kill signal reach the launcher, which stops every process
    if print_command:
        console.print("train.distributed.processes is 1: the stage runs in this process, no launcher")
        return
    if settings.processes == 1 and distributed.world_size() == 1:
        distributed.use_one_gpu()
    _run(stage_module.run, params_file, stage)


@app.command("merge")
def merge(params_file: ParamsFile = Path("params.yaml")) -> None:
    """Merge the adapter into the base. Reads: models/base/, models/complete_adapter/. Writes: models/merged/
    (safetensors in merge.dtype, tokenizer with the style tokens, chat template, generation config) and
    metrics/merge.json."""
    from stages import merge as stage

    _run(stage.run, params_file)


@app.command("quantize")
def quantize(params_file: ParamsFile = Path("params.yaml")) -> None:
    """AWQ int4 with llm-compressor. Reads: models/merged/, data/splits/stage2_train.jsonl (calibration).
    Writes: models/awq/ (compressed-tensors) and metrics/quantize.json."""
    from stages import quantize as stage

    _run(stage.run, params_file)


ModelName = Annotated[str, typer.Argument(help="a key of eval.models: base, merged or awq")]


@app.command("generate")
def generate(model: ModelName, params_file: ParamsFile = Path("params.yaml")) -> None:
    """Greedy answers of one model to the evaluation prompts (vLLM when installed, else transformers). Reads:
    the model directory in eval.models, data/splits/{verbosity_eval,iac_heldout}.jsonl. Writes:
    reports/generations/MODEL.jsonl."""
    from stages import generate as stage

    _run(stage.run, params_file, model)


@app.command("eval_verbosity")
def eval_verbosity(model: ModelName, params_file: ParamsFile = Path("params.yaml")) -> None:
    """TERSE vs VERBOSE lengths. Reads: reports/generations/MODEL.jsonl. Writes: metrics/verbosity_MODEL.json,
    reports/verbosity/MODEL.csv (per prompt) and MODEL_lengths.csv (histogram); exits 1 when a gated model's
    ratio is under eval.verbosity.min_ratio."""
    from stages import eval_verbosity as stage

    _run(stage.run, params_file, model)


@app.command("eval_iac")
def eval_iac(model: ModelName, params_file: ParamsFile = Path("params.yaml")) -> None:
    """The held-out IaC answers through the real validators (never executed). Reads:
    reports/generations/MODEL.jsonl. Writes: metrics/iac_MODEL.json, reports/iac/MODEL.jsonl; exits 1 when a
    gated model misses a gate set in eval.iac."""
    from stages import eval_iac as stage

    _run(stage.run, params_file, model)


@app.command("eval_public")
def eval_public(params_file: ParamsFile = Path("params.yaml")) -> None:
    """The public IaC benchmarks under eval.public.path (skipped when null), answered by eval.public.model and
    scored like eval_iac. Writes: metrics/public.json, reports/public.jsonl."""
    from stages import eval_public as stage

    _run(stage.run, params_file)


@app.command("parity")
def parity(params_file: ParamsFile = Path("params.yaml")) -> None:
    """bf16 merged vs AWQ. Reads: reports/generations/{merged,awq}.jsonl, models/merged/, models/awq/ (perplexity
    of the held-out answers), data/splits/. Writes: metrics/parity.json and reports/parity.jsonl; exits 1 when a
    threshold in `parity` is crossed."""
    from stages import parity as stage

    _run(stage.run, params_file)


@app.command("report")
def report(params_file: ParamsFile = Path("params.yaml")) -> None:
    """reports/TRAINING_LOG.md from the pipeline's metrics, curves and data (regenerated by dvc repro)."""
    from stages import report as stage

    _run(stage.run, params_file)


@app.command("harvest")
def harvest(
    directory: Annotated[Path, typer.Argument(help="a directory of your own IaC", exists=True, file_okay=False)],
    out: Annotated[Path, typer.Option(help="where the rows go (raw JSONL schema)")] = Path("data/raw/harvested.jsonl"),
) -> None:
    """Turn a directory of IaC (Terraform modules, CloudFormation, Kubernetes manifests, Helm charts) into
    instruction rows. Reads: DIRECTORY. Writes: OUT (rows) and OUT with .report.jsonl (each unit or file:
    harvested, skipped or refused, with the reason; hidden files and README.md, read for instructions, are not
    listed). Files that do not parse are reported, never harvested."""
    from rich.table import Table

    from stages import harvest as stage
    from stages.rows import write_jsonl

    with _user_errors():
        rows, reports = stage.harvest(directory)
    write_jsonl(out, rows)
    report_path = out.with_suffix(".report.jsonl")
    write_jsonl(report_path, (vars(r) for r in reports))
    table = Table("path", "status", "reason", title=f"harvest {directory}")
    for report in reports:
        colour = {"harvested": "green", "skipped": "yellow", "refused": "red"}[report.status]
        table.add_row(report.path, f"[{colour}]{report.status}[/]", report.reason)
    console.print(table)
    console.print(f"{len(rows)} rows -> {out}; report -> {report_path}")


@app.command("remote")
def remote_check(remote_name: RemoteName = None) -> None:
    """Check that the DVC remote can be used: no credentials in the tracked .dvc/config, the endpoint
    answers, the bucket exists, the credentials are accepted. Reads: .dvc/config(.local), the environment."""
    from stages import remote

    with _user_errors():
        checked = remote.check(Path("."), remote_name)
    console.print(f"{checked}: reachable, bucket found, credentials accepted")


def _transfer(direction: Literal["push", "pull"], targets: list[str] | None, remote_name: str | None,
              jobs: int | None) -> None:
    from stages import remote

    with _user_errors():
        done: Any = remote.transfer(direction, Path("."), targets or [], remote_name, jobs)
    if direction == "push":
        console.print(f"{done} files pushed")
    else:
        console.print(", ".join(f"{count} files {what}" for what, count in done["stats"].items()))


@app.command("push")
def push(targets: Targets = None, remote_name: RemoteName = None, jobs: Jobs = None) -> None:
    """`dvc push`, with one message naming the remote and what to check when the remote is the problem."""
    _transfer("push", targets, remote_name, jobs)


@app.command("pull")
def pull(targets: Targets = None, remote_name: RemoteName = None, jobs: Jobs = None) -> None:
    """`dvc pull`, with one message naming the remote and what to check when the remote is the problem."""
    _transfer("pull", targets, remote_name, jobs)


@app.command("rollback")
def rollback(to: Annotated[str, typer.Option("--to", help="the release tag (or any git revision)")],
             remote_name: RemoteName = None) -> None:
    """Put every artifact named in dvc.yaml (adapters, merged and AWQ models) back to its version at TAG:
    `git checkout TAG -- dvc.lock`, then the artifacts from the cache or `dvc pull`. Writes: dvc.lock (commit
    it to record the rollback), models/. Refuses an unknown TAG, a dvc.lock with uncommitted changes and a
    model changed since dvc.lock recorded it."""
    from rich.table import Table

    from stages import rollback as stage

    with _user_errors():
        changes = stage.run(to, Path("."), remote_name)
    table = Table("artifact", "path", "before", f"now ({to})", title=f"rollback to {to}")
    for change in changes:
        table.add_row(change.artifact, change.path, (change.before or "-")[:12], change.after[:12])
    console.print(table)
    console.print(f"Record it: git commit -m 'Roll back models to {to}' dvc.lock. Roll forward: qwen-iac "
                  "rollback --to a newer tag, or dvc repro")


Port = Annotated[int | None, typer.Option("--port", help="overrides serve.port")]
Url = Annotated[str | None, typer.Option("--url", help="the server (default: bench.url, else serve's host:port)")]


@app.command("serve")
def serve(
    params_file: ParamsFile = Path("params.yaml"),
    port: Port = None,
    engine: Annotated[str | None, typer.Option(help="vllm or transformers (default: serve.engine)")] = None,
    print_command: Annotated[bool, typer.Option("--print-command", help="show the command, start nothing")] = False,
) -> None:
    """OpenAI-compatible server for serve.model: vLLM on a GPU (max model length, dtype, tensor parallel size
    from params), else `transformers serve` (CPU). Clients ask for a style with <STYLE_TERSE> or <STYLE_VERBOSE>
    at the start of the user message. Reads: params.yaml `serve`, the model directory."""
    import os
    import shlex

    from stages import params, serving

    with _user_errors():
        loaded = params.load(params_file)
        chosen = serving.choose(loaded.serve, engine)
        argv = serving.command(loaded, chosen, port)
        if print_command:
            typer.echo(shlex.join(argv))
            return
        executable = serving.executable(loaded.serve, argv)
    console.print(f"{shlex.join(argv)}\nclients send model={serving.served_name(loaded.serve, chosen)!r}")
    os.execv(executable, argv)  # the server takes this process: systemd and the latency stage signal it directly


@app.command("deploy")
def deploy(
    print_unit: Annotated[bool, typer.Option("--print-unit", help="print the systemd unit")] = False,
    params_file: ParamsFile = Path("params.yaml"),
) -> None:
    """The systemd unit for `qwen-iac serve`, from params.yaml `serve` and deploy/qwen-iac.service.in:
    Restart=always, RestartSec=5, this repository as working directory, secrets from serve.deploy's
    environment file, started once `qwen-iac health` passes."""
    from stages import params, serving

    if not print_unit:
        console.print("[bold red]error:[/] nothing to do: pass --print-unit (install it with "
                      "`qwen-iac deploy --print-unit | sudo tee /etc/systemd/system/qwen-iac.service`)")
        raise typer.Exit(2)
    with _user_errors():
        typer.echo(serving.render_unit(params.load(params_file), params_file), nl=False)


@app.command("health")
def health(
    url: Url = None,
    wait: Annotated[float, typer.Option("--wait", help="seconds to keep trying while the model loads")] = 0.0,
    params_file: ParamsFile = Path("params.yaml"),
) -> None:
    """Exit 0 when the server answers /health (vLLM and transformers serve have it), else 1 with the reason."""
    from stages import params, serving

    with _user_errors():
        loaded = params.load(params_file)
        base_url = url or serving.url(loaded.serve)
        listed = serving.health(base_url, wait)
    console.print(f"{base_url}: healthy; models listed: {', '.join(entry['id'] for entry in listed) or 'none'}")


@app.command("bench")
def bench(
    url: Url = None,
    model: Annotated[str | None, typer.Option(help="the model name to send (default: bench.model)")] = None,
    params_file: ParamsFile = Path("params.yaml"),
) -> None:
    """Latency of a running OpenAI-compatible server: each prompt set in bench.prompt_sets, streaming at
    temperature 0 with fixed max_tokens; TTFT, TPOT, ITL and E2EL (mean, p50, p90 ms, as vllm bench serve names
    them); then TERSE vs VERBOSE through the API. Writes: deploy/latency.json, reports/latency.md; exits 1
    when a request failed (after writing them, marked incomplete)."""
    from stages import latency

    _run(lambda loaded, console: latency.endpoint(loaded, url, model, console), params_file)


@app.command("latency")
def latency_stage(params_file: ParamsFile = Path("params.yaml")) -> None:
    """DVC stage (dvc repro deploy/dvc.yaml): start `qwen-iac serve` on a free port, run `qwen-iac bench`
    against it, stop it. Writes: deploy/latency.json, reports/latency.md, reports/latency_server.log."""
    from stages import latency

    _run(lambda loaded, console: latency.run(loaded, params_file, console), params_file)


if __name__ == "__main__":
    app()
