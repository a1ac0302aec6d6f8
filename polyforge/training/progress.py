"""One progress line per logging step of a stage: step, loss, tokens/s and the time left, from rank 0 only."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from transformers import TrainerCallback


class ProgressLine(TrainerCallback):
    """Says `STAGE: step N/M loss L, T tokens/s, ETA H:MM:SS` each time the trainer logs a training loss."""

    def __init__(self, stage: str, say: Callable[[str], None]):
        self.stage = stage
        self.say = say
        self.started = time.monotonic()
        self.first_step = 0
        self.first_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed run starts at its checkpoint's step: rates count only what this process did.
        self.started = time.monotonic()
        self.first_step = state.global_step
        self.first_tokens = state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        steps = state.global_step - self.first_step
        tokens = (state.num_input_tokens_seen - self.first_tokens) / elapsed
        left = (state.max_steps - state.global_step) * elapsed / steps if steps else 0.0
        self.say(f"{self.stage}: step {state.global_step}/{state.max_steps} loss {logs['loss']:.4f}, "
                 f"{tokens:,.0f} tokens/s, ETA {timedelta(seconds=round(left))}")
