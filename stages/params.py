"""The schema of params.yaml. Every stage loads its parameters through `load()`, so an unknown key or
a value of the wrong type stops the stage before any work, naming the key and what is allowed."""

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stages import PipelineError

Style = Literal["TERSE", "VERBOSE"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelParams(Section):
    base: str = Field(description="hub id (owner/name), a local directory or .gguf file, or pkg:<module>/<file>")
    revision: str | None = Field(None, description="commit sha or tag; required for a hub id")
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"


class SourceParams(Section):
    path: str
    default_style: Style | None = None
    max_length_of: Literal["train_stage1", "train_stage2"]
    terse_max_tokens: int = Field(gt=0)
    verbose_min_tokens: int = Field(ge=0)
    require_code: bool = False


class ValidateParams(Section):
    max_reject_rate: float = Field(ge=0.0, le=1.0)
    sources: dict[str, SourceParams]


class SplitParams(Section):
    seed: int
    verbosity_eval_prompts: int = Field(gt=0)
    stage1_eval_fraction: float = Field(ge=0.0, lt=1.0)
    iac_heldout_fraction: float = Field(gt=0.0, lt=1.0)
    replay_fraction: float = Field(ge=0.0, lt=1.0)
    near_duplicate_threshold: float = Field(gt=0.0, le=1.0)


class LoraParams(Section):
    r: int = Field(gt=0)
    alpha: int = Field(gt=0)
    dropout: float = Field(ge=0.0, lt=1.0)
    target_modules: list[str] = Field(min_length=1)


class DistributedParams(Section):
    """Several training processes on one host through accelerate (issue 9): one per GPU."""

    processes: int = Field(1, ge=1, description="above 1, `qwen-iac train` runs itself under `accelerate launch`")
    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp", description="ddp: a whole (4-bit) copy of the base per GPU; fsdp: the base sharded across the GPUs")
    global_batch: Literal["keep", "scale"] = Field(
        "keep", description="keep: batch_size x gradient_accumulation_steps is shared out over the processes; "
                            "scale: every process runs it whole (the global batch grows with the processes)")

    @property
    def fsdp(self) -> bool:
        return self.processes > 1 and self.strategy == "fsdp"


class TrainingParams(Section):
    """What both training stages share: the adapter's shape and the token layout cannot change
    between stage 1 and stage 2."""

    seed: int
    style_markers: Literal["tokens", "text"] = Field(description="special tokens, or plain text for runtime LoRA")
    quantization: Literal["auto", "nf4", "none"] = Field(description="auto: nf4 on CUDA, none on CPU")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(description="auto: bf16 where the hardware has it")
    gradient_checkpointing: bool
    compile: Literal["auto", "layers", "none"] = Field(
        "auto", description="layers: torch.compile each decoder layer; auto: layers on one CUDA GPU, else none")
    activation_offloading: Literal["auto", "cpu", "none"] = Field(
        "auto", description="cpu: checkpointed activations wait in CPU memory; auto: cpu on one CUDA GPU with "
                            "gradient checkpointing, else none")
    embedding_offloading: Literal["auto", "cpu", "none"] = Field(
        "auto", description="cpu: the frozen input embedding stays in CPU memory and each step's rows are sent to "
                            "the GPU; auto: cpu on one CUDA GPU when the LM head does not share the table (tied), "
                            "else none")
    paired_styles: bool = Field(description="both styles of a prompt side by side in one optimizer step")
    lora: LoraParams
    distributed: DistributedParams = DistributedParams()


class TrainParams(Section):
    max_length: int = Field(gt=0)
    learning_rate: float = Field(gt=0.0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"]
    warmup_ratio: float = Field(ge=0.0, lt=1.0)
    batch_size: int = Field(gt=0)
    gradient_accumulation_steps: int = Field(gt=0)
    epochs: float = Field(gt=0.0)
    max_steps: int = Field(ge=-1, description="-1: run the epochs; otherwise stop after this many optimizer steps")
    save_steps: int = Field(gt=0)
    logging_steps: int = Field(gt=0)
    eval_examples: int = Field(ge=0, description="held-out examples for the final eval loss; 0: all of them")
    freeze_style_rows: bool = Field(False, description="keep the style tokens' rows as the previous stage left them")
    style_rows_lr_multiplier: float = Field(1.0, gt=0.0, description="the style rows' learning rate over learning_rate")


class MergeParams(Section):
    base: Literal["original", "nf4_roundtrip"] = Field(
        description="original: the base weights as published | nf4_roundtrip: quantized to nf4 and back, "
                    "what a QLoRA adapter saw in training")
    dtype: Literal["bfloat16", "float16", "float32"] = Field(description="of the merged weights")


class QuantizeParams(Section):
    scheme: Literal["W4A16", "W4A16_ASYM"] = Field(
        description="int4 weights, 16-bit activations; W4A16 (symmetric) also loads in transformers here")
    group_size: int = Field(gt=0, description="weights per scale; must divide every quantized layer's input width")
    calibration_samples: int = Field(gt=0, description="stage-2 training conversations AWQ calibrates on")
    max_seq_length: int = Field(gt=0, description="calibration tokens per conversation")
    grid_points: int = Field(gt=1, description="AWQ's search over scale exponents per layer group: its time grows "
                                              "with this (llm-compressor's n_grid, default 20)")


class ParityParams(Section):
    first_tokens: int = Field(gt=0, description="greedy agreement is measured over this many first tokens")
    max_perplexity_increase: float = Field(ge=0.0, description="AWQ over bf16 on held-out answers; 0.1: +10%")
    min_first_tokens_agreement: float = Field(ge=0.0, le=1.0)
    max_style_ratio_drop: float = Field(ge=0.0, le=1.0, description="relative drop of the TERSE/VERBOSE ratio")


class EvalModel(Section):
    path: str = Field(description="a Hugging Face model directory: the base, the merged or the AWQ model")
    gate: bool = Field(description="whether the eval gates apply (false for the base: it shows the starting point)")


class VerbosityEvalParams(Section):
    max_new_tokens: int = Field(gt=0)
    min_ratio: float = Field(gt=0.0, description="gate: mean VERBOSE over mean TERSE generated tokens")
    terse_max_tokens: int = Field(gt=0, description="a TERSE answer longer than this counts as over the bound")
    verbose_min_tokens: int = Field(ge=0, description="a VERBOSE answer shorter than this counts as under")


class IacEvalParams(Section):
    prompts: int = Field(ge=0, description="held-out IaC prompts, spread over languages; 0: all of them")
    max_new_tokens: int = Field(gt=0)
    terraform_plugin_dir: str | None = Field(None, description="provider mirror; null: /opt/tf-plugins or "
                                                               "~/.terraform.d/plugins when one holds providers")
    kubernetes_version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    min_terraform_validate_pass_rate: float | None = Field(None, ge=0.0, le=1.0, description="gate; null: report only")
    max_checkov_high_on_pass: int | None = Field(None, ge=0, description="gate; null: report only")


Suite = Literal["iac_eval", "dpiac_eval", "cloudeval_yaml", "aws_iac_model_evaluation"]


class PublicEvalParams(Section):
    path: str | None = Field(description="the folder holding the public benchmark suites; null: not evaluated")
    suites: list[Suite]
    tasks_per_suite: int = Field(gt=0)
    max_new_tokens: int = Field(gt=0)
    style: Style = Field(description="TERSE asks for the code alone, as the IaC training rows do")
    model: str = Field(description="a key of eval.models")


class EvalParams(Section):
    batch_size: int = Field(gt=0, description="prompts per transformers generate call (vLLM batches itself)")
    models: dict[str, EvalModel]
    verbosity: VerbosityEvalParams
    iac: IacEvalParams
    public: PublicEvalParams

    @model_validator(mode="after")
    def _names_and_references(self) -> "EvalParams":
        for name in self.models:
            if not re.fullmatch(r"[a-z0-9_]+", name):
                raise ValueError(f"eval.models: {name!r} must be lower-case letters, digits and _ (it names files)")
        missing = {"merged", "awq", self.public.model} - set(self.models)
        if missing:
            raise ValueError(f"eval.models must define {sorted(missing)} (parity and eval.public.model use them)")
        return self


class DeployParams(Section):
    unit_name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="the systemd unit: UNIT_NAME.service")
    user: str = Field(description="the account the server runs as")
    working_directory: str | None = Field(description="the repository the server runs in; null: this one")
    environment_file: str = Field(description="secrets (HF_TOKEN, ...) as KEY=value lines, kept out of the unit")


class ServeParams(Section):
    model: str = Field(description="the model directory served: models/merged, models/awq or any HF directory")
    adapter: str | None = Field(description="runtime LoRA on models/base (vLLM only): an adapter trained with "
                                            "train.style_markers: text; null: serve `model`")
    engine: Literal["auto", "vllm", "transformers"] = Field(
        description="auto: vLLM when it is installed and a GPU is there, else transformers serve")
    host: str
    port: int = Field(gt=0, lt=65536)
    served_model_name: str = Field(description="the model name clients send (vLLM); transformers serve knows the "
                                               "model by its directory")
    max_model_len: int = Field(gt=0, description="vLLM: prompt plus answer tokens per request")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(description="auto: the checkpoint's own")
    tensor_parallel_size: int = Field(gt=0, description="vLLM: GPUs one model is split over")
    gpu_memory_utilization: float = Field(gt=0.0, le=1.0, description="vLLM: share of GPU memory it may take")
    startup_timeout_s: int = Field(gt=0, description="loading the model may take this long before health fails")
    deploy: DeployParams


class PromptSetParams(Section):
    source: str = Field(description="a JSONL of rows with instruction (and input): the prompts, in file order")
    style: Style
    max_tokens: int = Field(gt=0, description="every answer is this long (ignore_eos where the server has it)")


class StyleCheckParams(Section):
    source: str = Field(description="a JSONL of prompts (rows with instruction), asked in both styles")
    prompts: int = Field(ge=0, description="how many, from the top of source; 0: no style check")
    max_tokens: int = Field(gt=0, description="as eval.verbosity.max_new_tokens, for a comparable ratio")


class BenchParams(Section):
    url: str | None = Field(description="an OpenAI-compatible server; null: the one `serve` starts")
    model: str | None = Field(description="the model name to send; null: the name `serve` gives it")
    requests: int = Field(gt=0, description="requests per prompt set")
    concurrency: int = Field(gt=0, description="requests in flight at once")
    timeout_s: float = Field(gt=0.0, description="per request, streaming included")
    length_control: Literal["auto", "ignore_eos", "min_new_tokens", "none"] = Field(
        description="how answers are held at max_tokens: ignore_eos (vLLM), min_new_tokens (transformers serve), "
                    "none; auto: the first the server accepts")
    prompt_sets: dict[str, PromptSetParams] = Field(min_length=1)
    style: StyleCheckParams


class Params(Section):
    model: ModelParams
    validate_: ValidateParams = Field(alias="validate")
    split: SplitParams
    train_: TrainingParams = Field(alias="train")
    train_stage1: TrainParams
    train_stage2: TrainParams
    merge: MergeParams
    quantize: QuantizeParams
    parity: ParityParams
    eval_: EvalParams = Field(alias="eval")
    serve: ServeParams
    bench: BenchParams

    @model_validator(mode="after")
    def _stage1_trains_the_style_rows(self) -> "Params":
        if self.train_stage1.freeze_style_rows:
            raise ValueError("train_stage1.freeze_style_rows must be false: stage 1 is where the style rows learn")
        return self

    @model_validator(mode="after")
    def _verbosity_and_iac_sources(self) -> "Params":
        missing = {"verbosity", "iac"} - set(self.validate_.sources)
        if missing:
            raise ValueError(f"validate.sources must define {sorted(missing)}")
        return self

    def train(self, stage: str) -> TrainParams:
        return getattr(self, stage)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the section at `loc`, walking the schema (dicts of sections included)."""
    model: Any = Params
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for name, f in model.model_fields.items() if (f.alias or name) == part), None)
        if field is None:  # a key of a dict[str, Section]: step into the value type
            continue
        annotation = field.annotation
        if get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        model = annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(error["loc"][:-1]))
        return f"{key}: unknown key (allowed here: {allowed})"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def parse(raw: dict[str, Any], origin: str = "params.yaml") -> Params:
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{origin} is invalid:"] + [f"  - {_describe(e)}" for e in exc.errors()]
        raise PipelineError("\n".join(lines)) from None


def load(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.exists():
        raise PipelineError(f"{path} not found: run qwen-iac from the repository root")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise PipelineError(f"{path}: the top level must be a mapping of sections")
    return parse(raw, str(path))
