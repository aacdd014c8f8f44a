"""What a person sees while a transformer trains: a bar of optimiser steps (epoch, latest validation macro-F1) and
one tidy line per epoch, instead of the Trainer's raw `{'loss': ...}` dicts.

`TrainProgress` replaces the Trainer's own ProgressCallback / PrinterCallback (`install`). Where stderr is not a
terminal (make demo into a log, CI), the bar is replaced by a line every tenth of the run. `--quiet` hides chatter
(`chatter=False`: no start and end lines) but never the progress itself. Only the main process prints.
Imports transformers: import this module inside the functions that train.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from transformers import TrainerCallback


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class TrainProgress(TrainerCallback):
    """A tqdm bar of steps (postfix: epoch, validation macro-F1) and one line per epoch on `stream`."""

    def __init__(self, stream: TextIO | None = None, bar: bool | None = None, chatter: bool = True,
                 lines: int = 10) -> None:
        self.stream = stream or sys.stderr
        self.use_bar = self.stream.isatty() if bar is None else bar  # a bar only where \r redraws in place
        self.chatter, self.lines = chatter, max(1, lines)
        self.bar: Any = None
        self.loss: float | None = None
        self.val_f1: float | None = None
        self.best_f1: float | None = None
        self.next_line = 0
        self.started = 0.0

    def _say(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.started = time.monotonic()
        epochs = int(args.num_train_epochs) if args.num_train_epochs == int(args.num_train_epochs) else \
            args.num_train_epochs
        if self.chatter:
            self._say(f"training: {state.max_steps} steps over {epochs} epoch(s), validation after each epoch")
        if self.use_bar:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, unit="step", desc="training",
                            file=self.stream, dynamic_ncols=True, leave=False)
        self.next_line = state.global_step + max(1, state.max_steps // self.lines)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not state.is_world_process_zero:
            return
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)
            self.bar.set_postfix_str(f"epoch {state.epoch or 0:.2f}, validation macro-F1 {_fmt(self.val_f1)}",
                                     refresh=False)
        elif state.global_step >= self.next_line and state.global_step < state.max_steps:
            self.next_line = state.global_step + max(1, state.max_steps // self.lines)
            rate = state.global_step / max(time.monotonic() - self.started, 1e-9)
            left = (state.max_steps - state.global_step) / rate if rate else 0
            self._say(f"  step {state.global_step}/{state.max_steps} ({100 * state.global_step / state.max_steps:.0f}%"
                      f", epoch {state.epoch or 0:.2f}, about {left / 60:.1f} min left)")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
        """Instead of printing the dict: keep the loss, and say one line when an epoch's validation is in."""
        if not state.is_world_process_zero or not logs:
            return
        if "loss" in logs:
            self.loss = float(logs["loss"])
            if args.eval_strategy in ("no", None) or str(args.eval_strategy).endswith("NO"):
                self._epoch_line(state, None, None)
        if "eval_macro_f1" in logs:
            self.val_f1 = float(logs["eval_macro_f1"])
            self._epoch_line(state, self.val_f1, logs.get("eval_accuracy"))
        if "train_runtime" in logs and self.chatter:
            self._say(f"trained in {logs['train_runtime']:.0f} s ({logs.get('train_samples_per_second', 0):.1f} "
                      "samples/s)")

    def _epoch_line(self, state: Any, f1: float | None, accuracy: float | None) -> None:
        total = int(round(state.num_train_epochs or 0)) or "?"
        text = f"epoch {round(state.epoch or 0)}/{total}: train loss {_fmt(self.loss, 4)}"
        if f1 is not None:
            best = self.best_f1 is None or f1 > self.best_f1
            self.best_f1 = f1 if best else self.best_f1
            text += (f", validation macro-F1 {_fmt(f1)}, accuracy {_fmt(accuracy)}"
                     + (" (best so far)" if best else f" (best {_fmt(self.best_f1)})"))
        self._say(text)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def install(trainer: Any, quiet: bool = False, stream: TextIO | None = None, bar: bool | None = None
            ) -> TrainProgress:
    """Swap the Trainer's printing callbacks (raw dicts, its own bars) for one TrainProgress; returns it.
    `quiet` (the CLI's --quiet) drops the chatter lines, never the bar or the epoch lines."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    callback = TrainProgress(stream=stream, bar=bar, chatter=not quiet)
    trainer.add_callback(callback)
    return callback


@contextlib.contextmanager
def quiet_logger(name: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise one library logger's level for a block (e.g. transformers.modeling_utils around a call whose
    notice we have already answered), restoring it after."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)
