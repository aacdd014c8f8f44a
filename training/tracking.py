"""The one module that talks to MLflow: where the store is, whether it answers, runs, inputs, models, aliases.

Training and evaluation both import it; nothing else imports mlflow. The tracking URI is always explicit:
--tracking-uri, else $MLFLOW_TRACKING_URI, else the config's, else a SQLite store in the repo's git-ignored
var/mlflow/.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from corpus.errors import InputError, ServiceError
from training.paths import var_dir

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CHAMPION = "champion"
SCORE_TAG = "validation_macro_f1"
MAX_DIGEST = 36  # MLflow's limit on a dataset digest; the full digest goes in a run tag
_SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


def default_tracking_uri() -> str:
    """sqlite:////<repo>/var/mlflow/mlflow.db (git-ignored)."""
    return f"sqlite:///{(var_dir() / 'mlflow' / 'mlflow.db').as_posix()}"


def resolve_tracking_uri(explicit: str | None = None, configured: str | None = None) -> str:
    """The tracking URI to use: explicit flag, then $MLFLOW_TRACKING_URI, then the config, then the default."""
    for value in (explicit, os.environ.get("MLFLOW_TRACKING_URI"), configured):
        if value and value.strip():
            return value.strip()
    return default_tracking_uri()


def redact(uri: str) -> str:
    """The URI with any password in it replaced, safe for messages and logs (`corpus.urls.redact_url`)."""
    from corpus.urls import redact_url

    return redact_url(uri)


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return None if rest in ("", ":memory:") else Path(rest)


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast, naming the URI, when the tracking store cannot be used (before any training starts)."""
    shown = redact(uri)
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (http(s) checked above)
                if resp.status != 200:
                    raise ServiceError(shown, f"tracking server answered HTTP {resp.status} on /health")
        except urllib.error.HTTPError as e:
            raise ServiceError(shown, f"tracking server answered HTTP {e.code} on /health") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServiceError(shown, f"tracking server does not answer ({reason})") from None
        return
    if scheme == "sqlite":
        path = _sqlite_path(uri)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ServiceError(shown, f"cannot create the tracking store's folder ({e.strerror})") from None
        if not os.access(path.parent, os.W_OK):
            raise ServiceError(shown, "tracking store folder is not writable")
        return
    if scheme in ("", "file"):
        raise InputError(shown, "file tracking stores are refused by MLflow 3; use sqlite:///PATH or http(s)://")


def configure(uri: str) -> None:
    """Point MLflow at `uri`, its telemetry off and its artifact-download bars quiet (one bar per file, dozens
    per model; MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=true brings them back)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    # mlflow's import sets its own loggers to INFO; a new store's "Creating initial MLflow database tables" and
    # alembic's migration lines are set-up chatter, not results (warnings still show)
    for name in ("mlflow.store.db.utils", "mlflow.tracking.fluent", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def default_artifact_root(uri: str) -> str | None:
    """For a SQLite store, the artifacts folder beside the database (as a file URI); None otherwise."""
    db = _sqlite_path(uri)
    return (db.parent / "artifacts").resolve().as_uri() if db else None


def ensure_experiment(name: str, uri: str) -> str:
    """The experiment's id, creating it (artifacts beside a SQLite store, not in the cwd) when new."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    root = default_artifact_root(uri)
    location = f"{root}/{name}" if root else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created meanwhile by another process
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@contextlib.contextmanager
def start_run(uri: str, experiment: str, run_name: str | None = None, run_id: str | None = None,
              tags: dict[str, str] | None = None) -> Iterator[str]:
    """Open (or, with run_id, reopen) one run; yields its id; marks it FAILED if the block raises."""
    import mlflow

    configure(uri)
    experiment_id = ensure_experiment(experiment, uri)
    try:
        run = mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id,
                               run_name=None if run_id else run_name, tags=tags)
    except mlflow.exceptions.MlflowException as e:
        raise ServiceError(redact(uri), f"cannot start run {run_id or run_name}: {e.message}") from None
    try:
        yield run.info.run_id
    except BaseException:
        mlflow.end_run("KILLED" if _interrupted() else "FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")


def mark_failed(run_id: str, note: str) -> bool:
    """End a run left RUNNING as FAILED with `note` (tag newsstance.note); False when it is not RUNNING."""
    import mlflow

    client = mlflow.MlflowClient()
    try:
        if client.get_run(run_id).info.status != "RUNNING":
            return False
        client.set_tag(run_id, "newsstance.note", note[:5000])
        client.set_terminated(run_id, "FAILED")
    except mlflow.exceptions.MlflowException as e:
        log.warning("could not mark run %s FAILED (%s)", run_id, e.message.splitlines()[0])
        return False
    return True


def end_finished(run_id: str) -> None:
    """End a run FINISHED whose work is all logged (a kill after the model was logged left it open or FAILED)."""
    import mlflow

    client = mlflow.MlflowClient()
    if client.get_run(run_id).info.status != "FINISHED":
        client.set_terminated(run_id, "FINISHED")


def set_run_tags(run_id: str, tags: dict[str, str]) -> None:
    """Tags on a run that has ended (the registry outcome is known only after the run is FINISHED)."""
    import mlflow

    client = mlflow.MlflowClient()
    for key, value in tags.items():
        if _safe(key, value):
            client.set_tag(run_id, key, value)


def _interrupted() -> bool:
    import sys

    return isinstance(sys.exc_info()[1], KeyboardInterrupt)


def _safe(key: str, value: Any) -> bool:
    return not any(word in key.lower() for word in _SECRET_WORDS)


def log_params(params: dict[str, Any]) -> None:
    """Log a flat dict of params (keys that look like secrets are never logged)."""
    import mlflow

    clean = {k: redact("" if v is None else str(v))[:6000] for k, v in params.items() if _safe(k, v)}
    items = list(clean.items())
    for i in range(0, len(items), 100):
        mlflow.log_params(dict(items[i: i + 100]))


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Log finite metrics at `step` (the epoch)."""
    import mlflow

    finite = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
    if finite:
        mlflow.log_metrics(finite, step=step)


def set_tags(tags: dict[str, str]) -> None:
    import mlflow

    mlflow.set_tags({k: v for k, v in tags.items() if _safe(k, v)})


def log_dataset(frame: pd.DataFrame, name: str, digest: str, source: str, context: str, targets: str) -> None:
    """Record a split as a run input (mlflow.data), carrying the dataset build's own digest."""
    import warnings

    import mlflow

    # MLflow registers the local-file source twice and says so, and hints about integer columns: not ours to fix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        short = digest if len(digest) <= MAX_DIGEST else digest.split(":", 1)[-1][:MAX_DIGEST]
        dataset = mlflow.data.from_pandas(frame, source=source, name=name, digest=short, targets=targets)
        mlflow.log_input(dataset, context=context)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> None:
    import mlflow

    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    import mlflow

    mlflow.log_text(text, artifact_file)


@dataclass(frozen=True)
class Registration:
    """What happened in the registry: the version made and whether it became the champion."""

    name: str
    version: str
    model_uri: str
    promoted: bool
    previous_score: float | None
    alias: str = CHAMPION


def _pip_requirements(*packages: str) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for pkg in packages:
        try:
            reqs.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            reqs.append(pkg)
    return reqs


# The project's packages a logged model imports: training (the predictor and the pyfunc wrapper) and corpus (errors,
# the codebook and the importers' mention rules behind `data.locate_unplaced`); training never imports evaluation.
CODE_PACKAGES = ("training", "corpus")
_NOT_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", "articles", "annotations", "configs")


@contextlib.contextmanager
def code_paths() -> Iterator[list[str]]:
    """Copies of CODE_PACKAGES without data or caches (the bundled corpus, training configs), for `code_paths`:
    MLflow puts them beside the model, so it loads where only its pip requirements are installed."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="newsstance-code-") as tmp:
        paths = []
        for name in CODE_PACKAGES:
            shutil.copytree(root / name, Path(tmp) / name, ignore=_NOT_CODE)
            paths.append(str(Path(tmp) / name))
        yield paths


def statement_signature(labels: list[str] | None = None) -> Any:
    """Model signature: statement rows in (context and mentions required; labels, offsets, and the article and
    side ids that pair pooling groups by, optional); with `labels`, a label column plus p_<label> probabilities
    out, else the predicted label."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string", "context"), ColSpec("string", "actor_mention"),
                     ColSpec("string", "policy_mention"), ColSpec("string", "actor_label", required=False),
                     ColSpec("string", "policy_label", required=False)]
                    + [ColSpec("string", c, required=False) for c in ("article_id", "actor_id", "policy_id")]
                    + [ColSpec("double", f"{e}_context_{p}", required=False)
                       for e in ("actor", "policy") for p in ("start", "end")])
    outputs = Schema([ColSpec("string", "label")] + [ColSpec("double", f"p_{n}") for n in labels]) if labels \
        else Schema([ColSpec("string")])
    return ModelSignature(inputs=inputs, outputs=outputs)


@contextlib.contextmanager
def chosen_pickle() -> Iterator[None]:
    """Around an sklearn save: cloudpickle is our explicit choice (skops cannot hold the pipeline's own classes;
    a model folder is loaded only from our own store, see load_sklearn), so mlflow.sklearn's warning that pickle
    formats need caution, emitted on every save, is answered here rather than printed each time."""
    logger = logging.getLogger("mlflow.sklearn")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def log_sklearn_model(model: Any) -> str:
    """Log a StatementClassifier with the sklearn flavour; returns the model URI."""
    import mlflow.sklearn

    with code_paths() as code, chosen_pickle():
        info = mlflow.sklearn.log_model(
            model, name="model", pip_requirements=_pip_requirements("scikit-learn", "pandas", "numpy"),
            code_paths=code, signature=statement_signature(), serialization_format="cloudpickle")
    return info.model_uri


def log_transformer_model(model_dir: str | Path, labels: list[str]) -> str:
    """Log a saved transformer folder as a pyfunc over statement rows; returns the model URI."""
    import warnings

    import mlflow.pyfunc

    # pyfunc_model.predict has type hints (no warning asking for them); the signature below describes the input
    # fully, so MLflow's advice to add an input example (it would load and run the model at log time) is answered
    # (its message starts with colour codes, hence the leading .*)
    with warnings.catch_warnings(), code_paths() as code:
        warnings.filterwarnings("ignore", message=".*An input example was not provided", category=UserWarning)
        info = mlflow.pyfunc.log_model(  # models from code: the wrapper file, not a pickle
            name="model", python_model=str(Path(__file__).with_name("pyfunc_model.py")),
            artifacts={"hf_model": str(model_dir)},
            pip_requirements=_pip_requirements("torch", "transformers", "pandas", "numpy"),
            code_paths=code, signature=statement_signature(labels))
    return info.model_uri


def save_sklearn_model(model: Any, path: str | Path) -> None:
    """Save a StatementClassifier as an MLflow sklearn model folder (the same layout as a logged one)."""
    import mlflow.sklearn

    with code_paths() as code, chosen_pickle():
        mlflow.sklearn.save_model(model, str(path),
                                  pip_requirements=_pip_requirements("scikit-learn", "pandas", "numpy"),
                                  code_paths=code, serialization_format="cloudpickle")


def load_sklearn(path: str | Path) -> Any:
    """Load an MLflow sklearn model folder (a pickle: load only models you trust)."""
    import sys

    import mlflow.sklearn

    saved = list(sys.path)  # the model's code copy is prepended by MLflow; this process already has ours
    try:
        return mlflow.sklearn.load_model(str(path))
    finally:
        sys.path[:] = saved


def champion_score(name: str, alias: str = CHAMPION) -> tuple[str, float] | None:
    """(version, validation score) of the version `alias` points at in `name`, or None."""
    import mlflow

    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version_by_alias(name, alias)
    except mlflow.exceptions.MlflowException:
        return None
    if SCORE_TAG in mv.tags:
        return mv.version, float(mv.tags[SCORE_TAG])
    if mv.run_id:
        value = client.get_run(mv.run_id).data.metrics.get(SCORE_TAG)
        if value is not None:
            return mv.version, float(value)
    return mv.version, float("-inf")


def registered_version(name: str, run_id: str) -> Any | None:
    """The version of `name` already registered from run `run_id` (a resumed run registers once), or None."""
    import mlflow

    client = mlflow.MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except mlflow.exceptions.MlflowException:
        return None
    found = [mv for mv in versions if mv.tags.get("run_id") == run_id]
    return min(found, key=lambda mv: int(mv.version)) if found else None


def register(model_uri: str, name: str, score: float, run_id: str, tags: dict[str, str] | None = None,
             alias: str = CHAMPION) -> Registration:
    """Register the model under `name` (once per run), tag its score; move `alias` (the champion of the model's
    dataset lineage) only when it beats the score of the version it points at. The plain `champion` alias
    follows whichever lineage champion moved last (kept for old URIs; evaluation resolves it per dataset)."""
    import mlflow

    client = mlflow.MlflowClient()
    current = champion_score(name, alias)
    mv = registered_version(name, run_id)
    if mv is not None:  # a resumed run that got as far as registering: never a second version
        log.info("run %s is registered already as %s version %s", run_id, name, mv.version)
        promoted = current is not None and str(current[0]) == str(mv.version)
        previous = None if current is None or promoted else current[1]
        return Registration(name, str(mv.version), model_uri, promoted, previous, alias)
    from mlflow.utils import logging_utils

    stream = logging_utils.MLFLOW_LOGGING_STREAM  # register_model prints two lines per call; our log says it once
    was, stream.enabled = stream.enabled, False
    try:
        mv = mlflow.register_model(model_uri, name, tags={SCORE_TAG: repr(float(score)), "run_id": run_id,
                                                          **(tags or {})})
    finally:
        stream.enabled = was
    promoted = current is None or score > current[1] + 1e-12
    if promoted:
        client.set_registered_model_alias(name, alias, mv.version)
        if alias != CHAMPION:
            client.set_registered_model_alias(name, CHAMPION, mv.version)
    log.info("registered %s version %s (%s %s)", name, mv.version, alias, "moved" if promoted else "kept")
    return Registration(name, str(mv.version), model_uri, promoted, None if current is None else current[1], alias)


def version_tags(model_uri: str) -> dict[str, str]:
    """Tags of the training run behind a models:/ or runs:/ URI ({} where it cannot be found)."""
    import mlflow

    client = mlflow.MlflowClient()
    run_id = None
    try:
        if model_uri.startswith("runs:/"):
            run_id = model_uri.removeprefix("runs:/").split("/", 1)[0]
        elif model_uri.startswith("models:/m-"):
            run_id = mlflow.get_logged_model(model_uri.removeprefix("models:/").split("/", 1)[0]).source_run_id
        elif model_uri.startswith("models:/"):
            name, _, ref = model_uri.removeprefix("models:/").partition("/")
            mv = client.get_model_version_by_alias(*name.split("@", 1)) if "@" in name \
                else client.get_model_version(name, ref)
            run_id = mv.run_id
        return dict(client.get_run(run_id).data.tags) if run_id else {}
    except mlflow.exceptions.MlflowException:
        return {}


def download_model(uri: str, tracking_uri: str | None = None) -> Path:
    """A local copy of an MLflow model (models:/name@alias, models:/m-..., runs:/...) in a fresh temp folder."""
    import mlflow

    configure(resolve_tracking_uri(tracking_uri))
    target = Path(tempfile.mkdtemp(prefix="newsstance-model-"))
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target)))
    except mlflow.exceptions.MlflowException as e:
        raise InputError(uri, f"cannot load the model ({e.message.splitlines()[0]})") from None
