"""The `lvg` command: LightningCLI (`fit | validate | test`) plus `lvg generate` and `lvg calibrate-trflow` on the same
config machinery, and `lvg evaluate` (routed to `lvg.evaluation.cli`).

Bad input raises `LvgError` (a parser error becomes one too, `lvg.cli_errors`); `main` prints it as one line
(`lvg: error: ...`) and exits with code 2. A SIGTERM during `lvg fit` saves a resumable checkpoint and exits with 143
(`lvg.callbacks.exact_resume`). `--verbose` (anywhere on the line) or LVG_VERBOSE=1 lets the libraries' logs through
(`lvg.console`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lvg import console
from lvg.callbacks.exact_resume import SIGTERM_EXIT_CODE
from lvg.callbacks.export import last_among_callbacks
from lvg.cli_errors import parser_errors_as_one_line
from lvg.errors import LvgError
from lvg.fit_resume import keep_csv_logs, resolve_last
from lvg.module import LongVideoModule
from lvg.options import GenerationOptions, StartOptions, with_options
from lvg.safe_load import check_checkpoint_file, load_weights_only
from lvg.scale import check_strategy, release_process_group
from lvg.tracking import log_context_table, log_search_table


class LvgTrainer(Trainer):
    """Lightning's Trainer plus the `generate` and `calibrate-trflow` subcommands (their arguments are the methods'
    signatures, the generation options derived from `lvg.options`)."""

    lvg_config: dict | None = None  # the resolved config, for the sidecar (set by LvgCLI.before_generate)

    @with_options(GenerationOptions)
    def generate(
        self,
        model: LongVideoModule,
        ckpt_path: str | None = None,
        progress: bool = True,
        jobs: str | None = None,
        shard: str | None = None,
        **options,
    ) -> dict:
        """Generate a long video clip by clip into `output` (mp4) with a JSON sidecar beside it.

        Args:
            ckpt_path: a Lightning checkpoint (.ckpt) to load weights from (default: the backbone's own weights).
            progress: show progress bars over clips and denoising steps.
            jobs: a JSON-lines manifest of many videos, one job per line (see `lvg.jobs`); each process generates
                its share (job i where i % world == rank) and skips jobs already done.
            shard: this process's share of `jobs` as RANK/WORLD (default: from torchrun / srun, else 0/1).
        """
        from lvg.allocator import fix_mmap_threshold
        from lvg.generate import write_long_video

        fix_mmap_threshold()  # peak memory flat in the clip count (lvg.allocator)
        options = GenerationOptions(**options)
        if ckpt_path is not None:
            load_weights(model, ckpt_path)
        place_for_generation(model, self.strategy.root_device)
        if shard is not None and jobs is None:
            raise LvgError("--shard splits a --jobs manifest: give --jobs too")
        if jobs is not None:
            from lvg.jobs import run_jobs

            return run_jobs(model, jobs, shard, options, self.lvg_config, progress)
        sidecar = write_long_video(model, options, self.lvg_config, progress)
        searches = {c["index"]: c["search"] for c in sidecar["clips"] if "search" in c}
        log_search_table(self.loggers, "generate/search", searches)
        contexts = {c["index"]: c["context"] for c in sidecar["clips"] if "context" in c}
        log_context_table(self.loggers, "generate/context", contexts)
        for logger in self.loggers:  # close the run: a later run in this process must not log into it
            logger.finalize("success")
            if isinstance(logger, WandbLogger) and logger._experiment is not None:
                logger.experiment.finish()
        return sidecar

    @with_options(StartOptions)
    def calibrate_trflow(
        self,
        model: LongVideoModule,
        search: str = "t_high",
        t_low: float = 0.3,
        t_high: float = 0.7,
        reference: str = "full",
        candidates: list[float] | None = None,
        seeds: int = 4,
        ckpt_path: str | None = None,
        output: str = "outputs/trflow_calibration.json",
        **options,
    ) -> dict:
        """Pick a T-RFlow threshold so the AF of videos over [t_low, t_high] matches the reference (error-free §3.4,
        eq. 6). The videos start as `lvg generate`'s do (one clip each unless num_clips says more).

        Args:
            search: the threshold to pick: `t_high` (the paper's compensating cut of the early, low-frequency terms,
                on lvg's t = 1-is-noise axis: see lvg.calibrate_trflow) or `t_low`; the other is held fixed.
            t_low: the lower threshold (held fixed when searching t_high; paper: 0.3).
            t_high: the upper threshold (held fixed when searching t_low; paper: 0.7).
            reference: `full` matches AF over [0, 1] (the untruncated sampler); `t_high` the literal reading (the
                interval with only the other cut; degenerate: see lvg.calibrate_trflow).
            candidates: the values to try (default: every step time of the schedule on the searched side).
            seeds: calibration videos (toy worlds toy_seed, toy_seed + 1, ..., or the guide with one seed each).
            ckpt_path: a Lightning checkpoint (.ckpt) to load weights from.
            output: the JSON file the searched curve is written to (a generate config's .mp4 `output` puts it
                beside that video as `<name>.trflow_calibration.json`).
        """
        from lvg.calibrate_trflow import calibrate_trflow, curve_path, format_curve

        start = StartOptions(**options)

        if ckpt_path is not None:
            load_weights(model, ckpt_path)
        model.to(self.strategy.root_device)
        result = calibrate_trflow(
            model,
            search=search,
            t_low=t_low,
            t_high=t_high,
            reference=reference,
            candidates=candidates,
            seeds=seeds,
            num_clips=start.num_clips or 1,
            toy_seed=start.toy_seed,
            seed=start.seed,
            guide=start.guide,
            prompt=start.prompt,
            prompt_file=start.prompt_file,
            output=output,
        )
        print(format_curve(result))
        print(f"{search} = {result[search]} (curve written to {curve_path(output)})")
        return result


setattr(LvgTrainer, "calibrate-trflow", LvgTrainer.calibrate_trflow)  # `lvg calibrate-trflow`


def place_for_generation(model: LongVideoModule, device) -> None:
    """Move the module to `device`; a backbone with `cpu_offload` keeps its parts on the CPU until each runs."""
    backbone = model.backbone
    if not backbone.cpu_offload:  # (lvg.backbones.memory.CpuOffload, every adapter)
        model.to(device)
        return
    for child in model.children():
        if child is not backbone:
            child.to(device)
    backbone.enable_cpu_offload(device)


def load_weights(model: LongVideoModule, ckpt_path: str) -> None:
    """Load a Lightning checkpoint's state dict into `model` (weights only: nothing in the file runs), with one clear
    error if it is missing, corrupt, needs code to load, or is foreign."""
    state = load_weights_only(ckpt_path).get("state_dict", {})
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing and len(missing) == len(model.state_dict()):
        raise LvgError(f"checkpoint {ckpt_path!r} holds no weights of this model: check the config matches it")


class LvgCLI(LightningCLI):
    """LightningCLI with `generate`; the resolved config is handed to the trainer for the sidecar."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {**LightningCLI.subcommands(), "generate": {"model"}, "calibrate-trflow": {"model"}}

    def _parse_ckpt_path(self) -> None:
        """The config builds the model, not `--ckpt_path`'s saved hyperparameters: those leave out the injected
        backbone, method, sampler and noise init, so Lightning's re-parse of them fails (`lvg fit --ckpt_path
        file.ckpt`). Weights, optimizer, loop and RNG state still come from the checkpoint."""

    def parse_arguments(self, parser, args) -> None:
        """jsonargparse's own parsing; an error it would print as a usage dump becomes one `LvgError` line."""
        with parser_errors_as_one_line(list(args or sys.argv[1:])):
            super().parse_arguments(parser, args)

    def before_instantiate_classes(self) -> None:
        """Checks before anything is built: a distributed strategy this machine cannot run (lvg.scale), a training
        config given to a generation command, and `--ckpt_path last` resolved to this root's newest checkpoint with
        its logger continued (lvg.fit_resume)."""
        cfg = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        if self.subcommand in ("generate", "calibrate-trflow") and cfg.get("data") is not None:
            raise LvgError(
                f"this is a training config (it has a data block): `lvg {self.subcommand}` takes a generation config "
                "(configs/*/generate*.yaml), or remove the data block"
            )
        check_strategy(cfg.get("trainer") or {}, cfg.get("model"))
        if self.subcommand in ("fit", "validate", "test"):
            resolve_last(cfg)
            if cfg.get("ckpt_path") is not None and not Path(cfg["ckpt_path"]).is_dir():
                check_checkpoint_file(cfg["ckpt_path"])  # before config.yaml or any log is written

    def before_fit(self) -> None:
        """The exports run after the other callbacks (what they write is what training ends with); a resumed run's
        CSV log keeps its rows before the checkpoint's step (lvg.fit_resume)."""
        self.trainer.callbacks = last_among_callbacks(self.trainer.callbacks)
        ckpt = self.config_init[self.subcommand].get("ckpt_path")
        if ckpt is not None and Path(ckpt).is_file():
            keep_csv_logs(self.trainer.loggers, ckpt)

    def before_generate(self) -> None:
        cfg = self.config.get(self.subcommand)
        self.trainer.lvg_config = cfg.as_dict() if hasattr(cfg, "as_dict") else {}


def _check_config_paths(argv: list[str]) -> None:
    """A missing `--config` file gets one line, not a parser usage dump."""
    for i, arg in enumerate(argv):
        path = None
        if arg in ("--config", "-c") and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        if path and not path.lstrip().startswith(("{", "[")) and not Path(path).is_file():
            raise LvgError(f"config file {path!r} does not exist: give a YAML file, e.g. configs/toy/extension.yaml")


def run_cli(args: list[str] | None = None) -> LvgCLI:
    """Build and run the CLI (what `lvg` does), raising LvgError on bad input."""
    _check_config_paths(sys.argv[1:] if args is None else args)
    return LvgCLI(
        LongVideoModule,
        trainer_class=LvgTrainer,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        args=args,
        auto_configure_optimizers=False,
    )


def find_lvg_error(exc: BaseException | None) -> LvgError | None:
    """The user error behind `exc`, if any: an LvgError (jsonargparse re-raises errors from class instantiation as
    ValueError), or Lightning's MisconfigurationException (trainer options that contradict each other)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, LvgError):
            return exc
        if isinstance(exc, MisconfigurationException):
            said = " ".join(str(exc).split())[:400].rstrip(".")
            return LvgError(f"{said}: change the trainer options in the config")
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def main(args: list[str] | None = None) -> None:
    argv = sys.argv[1:] if args is None else [str(a) for a in args]
    verbose = "--verbose" in argv or console.is_verbose()
    argv = [a for a in argv if a != "--verbose"]
    console.configure(verbose)
    try:
        if argv[:1] == ["evaluate"]:  # `lvg evaluate`: no model, its own parser (lvg.evaluation.cli)
            from lvg.evaluation.cli import run_evaluate

            run_evaluate(argv[1:])
            return
        run_cli(None if args is None and "--verbose" not in sys.argv else argv)
        release_process_group()
    except SIGTERMException:  # the checkpoint was saved and said (lvg.callbacks.exact_resume)
        sys.exit(SIGTERM_EXIT_CODE)
    except Exception as e:
        lvg_error = find_lvg_error(e)
        if lvg_error is None:
            raise
        print(f"lvg: error: {lvg_error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("lvg: interrupted; nothing partial was left under the output name", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
