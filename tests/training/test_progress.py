"""Training progress as a person reads it: one tidy line per epoch, step lines (or a bar), no raw Trainer dicts."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from tests.training.conftest import unique
from training.cli import app


def _state(step: int, epoch: float, max_steps: int = 20, epochs: int = 2) -> SimpleNamespace:
    return SimpleNamespace(is_world_process_zero=True, global_step=step, epoch=epoch, max_steps=max_steps,
                           num_train_epochs=epochs)


def test_epoch_lines_and_step_lines_without_a_terminal() -> None:
    from training.progress import TrainProgress

    out = io.StringIO()
    cb = TrainProgress(stream=out, chatter=True)
    args = SimpleNamespace(num_train_epochs=2, eval_strategy="epoch")
    cb.on_train_begin(args, _state(0, 0), None)
    for step in range(1, 11):
        cb.on_step_end(args, _state(step, step / 10), None)
    cb.on_log(args, _state(10, 1.0), None, logs={"loss": 1.23456, "grad_norm": 3.0, "learning_rate": 1e-5})
    cb.on_log(args, _state(10, 1.0), None, logs={"eval_loss": 1.1, "eval_macro_f1": 0.4, "eval_accuracy": 0.5})
    for step in range(11, 21):
        cb.on_step_end(args, _state(step, step / 10), None)
    cb.on_log(args, _state(20, 2.0), None, logs={"loss": 0.9})
    cb.on_log(args, _state(20, 2.0), None, logs={"eval_macro_f1": 0.35, "eval_accuracy": 0.45})
    cb.on_log(args, _state(20, 2.0), None, logs={"train_runtime": 12.0, "train_samples_per_second": 40.0})
    cb.on_train_end(args, _state(20, 2.0), None)
    lines = out.getvalue().splitlines()
    assert lines[0] == "training: 20 steps over 2 epoch(s), validation after each epoch"
    assert "epoch 1/2: train loss 1.2346, validation macro-F1 0.400, accuracy 0.500 (best so far)" in lines
    assert "epoch 2/2: train loss 0.9000, validation macro-F1 0.350, accuracy 0.450 (best 0.400)" in lines
    assert lines[-1] == "trained in 12 s (40.0 samples/s)"
    steps = [ln for ln in lines if ln.startswith("  step ")]
    assert len(steps) == 9 and steps[0].startswith("  step 2/20 (10%, epoch 0.20")  # every tenth, not the last
    assert not any("{" in ln for ln in lines)

    quiet = io.StringIO()
    cb = TrainProgress(stream=quiet, chatter=False)
    cb.on_train_begin(args, _state(0, 0), None)
    cb.on_log(args, _state(10, 1.0), None, logs={"loss": 1.0})
    cb.on_log(args, _state(10, 1.0), None, logs={"eval_macro_f1": 0.4, "eval_accuracy": 0.5})
    cb.on_log(args, _state(20, 2.0), None, logs={"train_runtime": 1.0})
    assert quiet.getvalue().splitlines() == ["epoch 1/2: train loss 1.0000, validation macro-F1 0.400, accuracy "
                                             "0.500 (best so far)"]


def test_a_bar_where_there_is_a_terminal() -> None:
    from training.progress import TrainProgress

    out = io.StringIO()
    cb = TrainProgress(stream=out, bar=True, chatter=False)
    args = SimpleNamespace(num_train_epochs=1, eval_strategy="epoch")
    cb.on_train_begin(args, _state(0, 0, 4, 1), None)
    for step in range(1, 5):
        cb.on_step_end(args, _state(step, step / 4, 4, 1), None)
    cb.on_log(args, _state(4, 1.0, 4, 1), None, logs={"eval_macro_f1": 0.5, "eval_accuracy": 0.5})
    assert cb.bar is not None and cb.bar.n == 4
    cb.on_train_end(args, _state(4, 1.0, 4, 1), None)
    text = out.getvalue()
    assert "training" in text and "4/4" in text and "epoch 1/1" in text


@pytest.mark.slow
def test_quiet_training_prints_epoch_lines_not_raw_dicts(statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    result = CliRunner().invoke(app, [
        "train", "--config", "tiny", "--dataset", str(statements_dataset), "--tracking-uri", tracking_uri, "--quiet",
        "--set", "transformer.epochs=2", "--set", f"output_dir={tmp_path / 'run'}",
        "--set", f"tracking.registered_model={unique('progress', request)}"])
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "epoch 1/2: train loss" in err and "epoch 2/2: train loss" in err and "validation macro-F1" in err
    assert "{'loss'" not in err and "'eval_loss'" not in err and "{'train_runtime'" not in err
    assert "multivariate normal" not in err  # transformers' mean-resizing notice
    assert "Add type hints" not in err and "pickle" not in err
    assert f"mlflow ui --backend-store-uri {tracking_uri})" in result.stdout  # the real store, not a placeholder
