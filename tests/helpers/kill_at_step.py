"""`python tests/helpers/kill_at_step.py SIGNAL WHEN lvg-args...`: run `lvg` in this fresh process and send it a real
SIGKILL or SIGTERM from inside, at a known point instead of after a race: WHEN is `N` or `step:N` (after global
training step N of `lvg fit`) or `clip:N` (once `lvg generate` has logged clip N - 1 and its resume state)."""

import os
import signal
import sys

import lightning as L


def kill_after_training_step(step: int, sig: int) -> None:
    from lvg.module import LongVideoModule

    class KillAt(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == step:
                os.kill(os.getpid(), sig)

    configure = LongVideoModule.configure_callbacks
    LongVideoModule.configure_callbacks = lambda self: [*configure(self), KillAt()]


def kill_after_clip(clip: int, sig: int) -> None:
    from lvg.resume import ResumeLog

    commit = ResumeLog.commit

    def commit_then_kill(self, next_clip, *args, **kwargs):
        commit(self, next_clip, *args, **kwargs)
        if next_clip == clip:
            os.kill(os.getpid(), sig)

    ResumeLog.commit = commit_then_kill


def main() -> None:
    name, when, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    kind, _, number = when.rpartition(":")
    sig = getattr(signal, name)
    (kill_after_clip if kind == "clip" else kill_after_training_step)(int(number), sig)
    sys.argv = ["lvg", *args]
    from lvg.cli import main as lvg_main

    lvg_main()


if __name__ == "__main__":
    main()
