"""A self-contained offline HTML report: the videos side by side (VP9 WebM, which Debian's Chromium decodes; H.264
may not be), played in step with one play button and a shared scrubber, the per-clip curves under them, the
per-method table and every run's config. Everything is embedded (base64), so the one file can be copied anywhere.

Opened with `#selftest` in the URL, the page seeks, plays and pauses all videos and writes what it saw (ready
states, times, the largest gap between videos) as JSON into `<pre id="selftest">` (the tests read it from headless
Chromium's `--dump-dom`).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from lvg.evaluation.trust import CANNOT_JUDGE
from lvg.evaluation.webm import encode_many
from lvg.video import read_video


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


SCRIPT = """
const vids = [...document.querySelectorAll('video.lvg')];
const scrub = document.getElementById('scrub'), label = document.getElementById('time');
const master = () => vids.reduce((a, b) => ((b.duration || 0) > (a.duration || 0) ? b : a));
const total = () => master().duration || 1;
function seekAll(t) { vids.forEach(v => { v.currentTime = Math.min(t, v.duration || t); }); }
function playAll() { const t = master().currentTime; seekAll(t); return Promise.all(vids.map(v => v.play())); }
function pauseAll() { vids.forEach(v => v.pause()); }
document.getElementById('play').onclick = () => (master().paused ? playAll() : pauseAll());
scrub.oninput = () => { pauseAll(); seekAll(scrub.value * total()); };
function onTime() {
  const m = master(), t = m.currentTime;
  scrub.value = t / total(); label.textContent = t.toFixed(2) + ' s';
  vids.forEach(v => {
    if (v !== m && !m.paused && Math.abs(v.currentTime - t) > 0.15 && t < v.duration) v.currentTime = t;
  });
}
vids.forEach(v => v.addEventListener('timeupdate', onTime));
const gap = () => Math.max(...vids.map(v => v.currentTime)) - Math.min(...vids.map(v => v.currentTime));
const wait = ms => new Promise(r => setTimeout(r, ms));
const once = (v, event) => new Promise(r => v.addEventListener(event, r, {once: true}));
const ready = v => (v.readyState >= 2 ? Promise.resolve() : once(v, 'loadeddata'));
async function selftest() {
  const out = document.getElementById('selftest'), res = {};
  try {
    await Promise.all(vids.map(ready));
    res.ready = vids.map(v => v.readyState); res.durations = vids.map(v => v.duration);
    res.errors = vids.map(v => v.error ? v.error.code : 0);
    scrub.value = 0.5; scrub.dispatchEvent(new Event('input'));
    await Promise.all(vids.map(v => (v.seeking ? once(v, 'seeked') : Promise.resolve())));
    res.after_seek = vids.map(v => v.currentTime); res.seek_gap = gap();
    seekAll(0); await wait(100);
    vids.forEach(v => { v.muted = true; });
    await playAll(); await wait(700);
    res.playing = vids.map(v => !v.paused); res.after_play = vids.map(v => v.currentTime); res.play_gap = gap();
    pauseAll(); res.paused = vids.map(v => v.paused);
  } catch (e) { res.exception = String(e); }
  out.textContent = JSON.stringify(res);
}
if (location.hash === '#selftest') selftest();
"""

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.videos { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; } figcaption { font-size: 12px; max-width: 256px; }
video { width: 256px; image-rendering: pixelated; background: #000; }
.controls { margin: 10px 0; display: flex; gap: 10px; align-items: center; }
#scrub { width: 520px; }
.plots img { width: 420px; margin: 4px; }
table { border-collapse: collapse; font-size: 13px; } td, th { border: 1px solid #ccc; padding: 3px 6px; }
pre { font-size: 11px; background: #f6f6f6; padding: 6px; max-height: 300px; overflow: auto; }
"""


DISPLAY = 256  # pixels: small videos are upscaled (pixel repetition) and large ones subsampled towards this size


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def write_html_report(report: dict, path: Path, scale: int | None = None) -> Path:
    """Write the offline HTML report of an `lvg evaluate` report dict to `path`."""
    clips = []
    for r in report["videos"]:
        frames = read_video(r["path"])
        side = max(frames.shape[1:3])
        if side > 2 * DISPLAY:  # keep the page small: every n-th pixel of large videos
            frames = frames[:, :: side // DISPLAY, :: side // DISPLAY]
        up = scale or max(1, DISPLAY // max(frames.shape[1:3]))
        clips.append((frames, float(report["sidecars"].get(r["path"], {}).get("fps", 8)), up))
    figures = []
    for r, webm in zip(report["videos"], encode_many(clips)):
        caption = html.escape(f"{r['method']} · seed {r['seed']} · {r['video']}")
        figures.append(f'<figure><video class="lvg" src="{_data_uri(webm, "video/webm")}" preload="auto" muted '
                       f'playsinline></video><figcaption>{caption}</figcaption></figure>')  # fmt: skip
    names = list(report["metrics"])
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(
        f"<tr><td>{html.escape(m)} ({e['videos']})</td>"
        + "".join(f"<td>{_fmt(e['whole'].get(n))}</td>" for n in names)
        + "</tr>"
        for m, e in report["per_method"].items()
    )
    sources = "".join(
        f"<li><b>{html.escape(n)}</b>: {html.escape(i['source'])}"
        + (f" <b>{html.escape(CANNOT_JUDGE)}</b>" if not i.get("judges_toy_video", True) else "")
        + "</li>"
        for n, i in report["metrics"].items()
    )
    plots = "".join(
        f'<img alt="{html.escape(n)}" src="{_data_uri(Path(p).read_bytes(), "image/png")}">'
        for n, p in report.get("plots", {}).items()
    )
    skipped = [
        f"{s.get('input') or s.get('metric')}: {s['reason']}"
        for k in ("inputs", "metrics")
        for s in report["skipped"][k]
    ]
    skipped_html = "".join(f"<li>{html.escape(s)}</li>" for s in skipped) or "<li>nothing</li>"
    variance_cols = ["method", "metric", "conditions", "noises", "min", "max", "range", "std"]

    def cell(row: dict, col: str) -> str:
        return f"<td>{html.escape(str(row[col])) if col in variance_cols[:4] else _fmt(row[col])}</td>"

    variance = "".join(
        "<tr>" + "".join(cell(r, c) for c in variance_cols) + "</tr>" for r in report.get("variance_over_noises", [])
    )
    configs = "".join(
        f"<details><summary>{html.escape(Path(p).name)}</summary>"
        f"<pre>{html.escape(json.dumps(s, indent=1))}</pre></details>"
        for p, s in report["sidecars"].items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>lvg evaluation</title>
<style>{STYLE}</style></head><body><h1>lvg evaluation</h1>
<div class="controls"><button id="play">play / pause</button>
<input id="scrub" type="range" min="0" max="1" step="0.001" value="0"><span id="time">0.00 s</span></div>
<div class="videos">{"".join(figures)}</div>
<h2>Per-clip curves</h2><div class="plots">{plots}</div>
<h2>Whole videos (generated frames), per method</h2><table><tr><th>method (videos)</th>{head}</tr>{body}</table>
<h3>Over noises (same start, different seeds; the chunk-wise paper's table 1)</h3>
<table><tr>{"".join(f"<th>{c}</th>" for c in variance_cols)}</tr>{variance}</table>
<h3>Which path produced each number</h3><ul>{sources}</ul>
<h3>Skipped</h3><ul>{skipped_html}</ul>
<h2>Run configs</h2>{configs}
<pre id="selftest"></pre>
<script>{SCRIPT}</script></body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
