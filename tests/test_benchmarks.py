"""The benchmark harness (benchmarks/run.py) and the benchmarks' code paths at tiny sizes (never their figures)."""

import json
import subprocess
import sys

import pytest
import torch
from tests_paths import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import run as harness  # noqa: E402

KEYS = {"name", "value", "unit", "lower_is_better", "machine", "commit", "notes"}


def test_the_harness_writes_a_well_formed_report_with_skips_and_their_reasons(tmp_path):
    out = tmp_path / "report.json"
    cmd = [sys.executable, "benchmarks/run.py", "--quick", "--only", "gpu_profile", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.read_text())
    assert records and all(set(r) == KEYS for r in records)
    names = [r["name"] for r in records]
    assert len(set(names)) == len(names)
    assert "gpu/wan_t2v_1_3b/seconds_per_step" in names and "gpu/svd_xt/lora_train_peak_gib" in names
    if not torch.cuda.is_available():
        assert all(r["value"] is None and "no CUDA" in r["notes"] for r in records)
        skip_line = [line for line in proc.stderr.splitlines() if line.startswith("[gpu_profile]")]
        assert len(skip_line) == 1 and "0 of 18 records" in skip_line[0] and "no CUDA device" in skip_line[0]
    assert all(r["commit"] != "unknown" and "cpus" in r["machine"] for r in records)
    table = out.with_suffix(".md").read_text().splitlines()
    assert table[0].startswith("Machine:") and sum(line.startswith("| gpu/") for line in table) == len(records)


def test_every_benchmark_is_run_and_a_failing_one_leaves_a_record_with_its_reason(tmp_path):
    (tmp_path / "good.py").write_text(
        "def records(quick):\n"
        "    return [{'name': 'good/x', 'value': 2.0 if quick else 1.0, 'unit': 's', 'lower_is_better': True,"
        " 'notes': ''}]\n"
    )
    (tmp_path / "broken.py").write_text("def records(quick):\n    raise RuntimeError('needs a dataset')\n")
    (tmp_path / "malformed.py").write_text("def records(quick):\n    return [{'name': 'm/x', 'value': 'fast'}]\n")
    (tmp_path / "_helpers.py").write_text("raise ImportError('not a benchmark')\n")
    records = harness.run_all(None, quick=True, folder=tmp_path)
    by_name = {r["name"]: r for r in records}
    assert set(by_name) == {"good/x", "broken/not_run", "malformed/not_run"}
    assert by_name["good/x"]["value"] == 2.0 and by_name["good/x"]["machine"] == harness.machine()
    assert by_name["broken/not_run"]["value"] is None and "needs a dataset" in by_name["broken/not_run"]["notes"]
    assert "malformed" in by_name["malformed/not_run"]["notes"]
    assert [r["name"] for r in harness.run_all(["good"], quick=False, folder=tmp_path)] == ["good/x"]
    with pytest.raises(SystemExit, match="no benchmark nope"):
        harness.run_all(["nope"], quick=True, folder=tmp_path)


def test_a_stopped_run_keeps_the_report_of_the_benchmarks_that_finished(tmp_path):
    """The report is rewritten after every benchmark: killed during the second, the first one's records are there,
    and progress was printed for both."""
    import signal
    import time

    (tmp_path / "a_fast.py").write_text(
        "def records(quick):\n"
        "    return [{'name': 'a/x', 'value': 1.0, 'unit': 's', 'lower_is_better': True, 'notes': ''}]\n"
    )
    (tmp_path / "b_hangs.py").write_text("import time\ndef records(quick):\n    time.sleep(600)\n")
    out = tmp_path / "report" / "report.json"
    code = (
        f"import sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); import run; from pathlib import Path; "
        f"run.run_all(None, True, folder=Path({str(tmp_path)!r}), out=Path({str(out)!r}))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    assert [r["name"] for r in json.loads(out.read_text())] == ["a/x"]
    assert "| a/x | 1 |" in out.with_suffix(".md").read_text()
    assert "[1/2] a_fast: running" in stderr and "[a_fast] 1 of 1 records" in stderr
    assert not list(out.parent.glob("*.tmp"))


def test_the_lightning_overhead_benchmark_times_the_same_training_in_both_loops():
    lo = harness.load(REPO / "benchmarks" / "lightning_overhead.py")
    batches = lo.toy_batches(2, resolution=16, frames=4, batch=2)
    plain, trainer = (lo.fresh_module(32, 1, 2, 16, 4) for _ in range(2))
    lo.plain_seconds(plain, batches)
    lo.lightning_seconds(trainer, batches)
    start = lo.fresh_module(32, 1, 2, 16, 4)
    for a, b in zip(plain.parameters(), trainer.parameters()):
        assert torch.equal(a, b)  # the same steps, so the ratio compares like with like
    assert any(not torch.equal(a, c) for a, c in zip(plain.parameters(), start.parameters()))


def tiny_profiles(gp):
    wan = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4,
               text_dim=16, freq_dim=32, ffn_dim=24, num_layers=1)  # fmt: skip
    cog = dict(num_attention_heads=2, attention_head_dim=16, in_channels=8, out_channels=4, num_layers=1,
               text_embed_dim=32, time_embed_dim=8, sample_frames=9, sample_height=4, sample_width=4, patch_size=2,
               max_text_seq_length=8, use_rotary_positional_embeddings=True,
               use_learned_positional_embeddings=True)  # fmt: skip
    return [gp.wan_t2v_1_3b(5, 32, 32, wan), gp.cogvideox_5b_i2v(9, 32, 32, cog)]


def test_the_gpu_profile_code_runs_on_tiny_configs_of_the_same_models():
    """The GPU figures need a GPU; their code path (inputs, compile-free step, LoRA step) is checked here on CPU."""
    gp = harness.load(REPO / "benchmarks" / "gpu_profile.py")
    for profile in tiny_profiles(gp):
        figures = gp.measure(profile, torch.device("cpu"), torch.float32, steps=1, compile=False)
        assert figures["step_s"] > 0 and figures["lora_step_s"] > 0 and figures["step_gib"] is None
    net = gp.cast(tiny_profiles(gp)[0].build(), torch.bfloat16)
    assert net.blocks[0].attn1.to_q.weight.dtype == torch.bfloat16 and net.scale_shift_table.dtype == torch.float32


def test_the_memory_benchmark_code_runs_on_a_tiny_wan(monkeypatch):
    """Its figures need a GPU; the full, LoRA (lvg's add_lora) and inference steps are run here on CPU."""
    mem = harness.load(REPO / "benchmarks" / "memory.py")
    monkeypatch.setattr(mem, "LATENT", (4, 2, 4, 4))
    wan = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4,
               text_dim=16, freq_dim=32, ffn_dim=24, num_layers=1)  # fmt: skip
    figures = mem.model_figures(wan, torch.device("cpu"), full=True)
    assert set(figures) == set(mem.FIGURES) and all(v is None for v in figures.values())  # no CUDA peak on CPU
    if not torch.cuda.is_available():
        records = mem.records(quick=True)
        names = {r["name"] for r in records}
        assert {"memory/wan_t2v_1_3b/train_lora_peak_gib", "memory/wan_vae/decode_tiled_peak_gib"} <= names
        assert all(r["value"] is None and "no CUDA" in r["notes"] for r in records)


def test_the_kv_cache_benchmark_re_selects_old_clips_and_times_each_way_of_getting_their_kv():
    """Its returning prompts make the paper's policy come back to clips out of the recent window (the re-selection
    the benchmark times), and each way of getting past K/V runs the same clips."""
    kv = harness.load(REPO / "benchmarks" / "kv_cache.py")
    records = list(kv.reselection(quick=True, steps=1, size=16, note="tiny"))
    names = ["reselection_prepare_seconds", "reselection_share_of_clip"]
    names += [f"split_{part}_seconds" for part in ("selection", "gather", "attention", "recording")]
    assert [r["name"] for r in records] == [f"kv_cache/{name}" for name in names]
    returned = int(records[0]["notes"].split("; ")[-1].split()[0])
    assert returned == len(kv.TOPICS) + 1  # every clip of the second round (and the third's first) re-selects
    baseline = kv.RecomputeKV(from_clip=2, policy=kv.PromptSimilarity(kv.MAX_CLIPS), condition_fill="nearest")
    assert len(kv.run_clips(baseline, 3, 1, 16, True)) == 3
    drift = list(kv.drift(quick=True, lora=None))
    assert len(drift) == 4 and all(r["value"] is None and "configs/toy/causal_kv.yaml" in r["notes"] for r in drift)


def test_the_search_benchmark_times_each_search_against_the_naive_chunk():
    import search

    records = {r["name"]: r["value"] for r in search.bench_cost(steps=2, k=1, m=2, repeats=1)}
    assert records["search/naive_chunk_seconds"] > 0
    for name in ("restart_batched", "restart_sequential", "prefix_batched"):
        assert records[f"search/{name}_over_naive"] > 0  # each configuration ran a whole chunk
