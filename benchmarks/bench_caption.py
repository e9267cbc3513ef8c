"""Live captioning (issue 4): frames shown against the source's rate, captions per second
and latency against a bare captioning loop, the GUI's longest stall while the stream runs,
and resident memory after 10,000 frames against after 1,000.

No camera exists on these machines: the generated shapes stream with the camera look stands
in for one, through the same capture thread, panel and worker a camera would use.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench_common import (
    STALL_GOAL_MS,
    App,
    Row,
    Settings,
    StallProbe,
    log,
    median,
    run_events,
    spread,
    wait_until,
)

CAMERA_FPS = 30.0  # what a laptop camera delivers
SHOWN_GOAL = 0.95
MEMORY_GOAL_MB = 50.0


class CaptionApp(App):
    """The app with the captioning panel in front and the shipped captioner open."""

    def __init__(self, threads: int, device: str):
        super().__init__(threads, device)
        self.window.show_panel("caption")
        self.caption_panel = self.window.panels["caption"]
        wait_until(lambda: self.caption_panel.model is not None, 60, "the shipped captioner to load")

    def play(self, source) -> None:
        panel = self.caption_panel
        panel.set_frozen(False)
        panel.capture.start(source)

    def stop(self) -> None:
        self.caption_panel.capture.stop()
        run_events(0.1)


def rss_mb() -> float:
    import resource

    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def _bare_captions(model, frames, seconds: float) -> tuple[float, float]:
    """Caption `frames` in turn on this thread for `seconds`: (captions/s, median ms each)."""
    import torch

    from rnnstudio.data.images import fit_square
    from rnnstudio.nn.captioner import images_to_tensor

    size, times = model.config.image_size, []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for image in frames:
            t0 = time.perf_counter()
            with torch.inference_mode():
                model.greedy(model.encode(images_to_tensor([fit_square(image, size)])))
            times.append(time.perf_counter() - t0)
    return len(times) / sum(times), 1000 * median(times)


def case_caption_live(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    import torch

    from rnnstudio.data import shapes
    from rnnstudio.media.sources import GeneratedSource
    from rnnstudio.nn.captioner import load_captioner
    from rnnstudio.paths import shipped_model

    torch.set_num_threads(threads)
    seconds = max(2.0, 1.25 * cfg.stall_seconds)
    bare_model = load_captioner(shipped_model("caption"), device).model.eval()
    rng = __import__("numpy").random.default_rng(7)
    frames = [shapes.render(shapes.random_scene(rng), size=256, camera=True, rng=rng) for _ in range(8)]
    shown_ratio, shown, source_rates, captions, latencies, stalls, idle, own = [], [], [], [], [], [], [], []
    bare_rates, bare_ms = [], []
    with CaptionApp(threads, device) as app:
        panel = app.caption_panel
        probe = StallProbe()
        counts = {"shown": 0, "captions": 0}
        panel.capture.frame_ready.connect(lambda: counts.__setitem__("shown", counts["shown"] + 1))
        panel.caption_ready.connect(lambda _r: counts.__setitem__("captions", counts["captions"] + 1))
        _bare_captions(bare_model, frames[:2], 0.2)  # warm-up
        for i in range(cfg.stall_repeats):
            rate, ms = _bare_captions(bare_model, frames, 0.5)
            bare_rates.append(rate)
            bare_ms.append(ms)
            probe.start()
            run_events(cfg.stall_seconds)
            idle.append(probe.stop())
            app.play(GeneratedSource(seed=i, fps=CAMERA_FPS, camera=True))
            run_events(0.5)  # the first frames and captions; then measure
            counts.update(shown=0, captions=0)
            read0, t0 = panel.capture.frames_read, time.perf_counter()
            panel._latencies.clear()
            probe.start()
            run_events(seconds)
            stalls.append(probe.stop())
            own.append(probe.own_ms)
            elapsed = time.perf_counter() - t0
            source_rate = (panel.capture.frames_read - read0) / elapsed
            shown.append(counts["shown"] / elapsed)
            source_rates.append(source_rate)
            shown_ratio.append(shown[-1] / source_rate)
            captions.append(counts["captions"] / elapsed)
            latencies.append(1000 * median(list(panel._latencies)) if panel._latencies else float("nan"))
            app.stop()
            log(f"  caption_live {i + 1}/{cfg.stall_repeats}: shown {shown[-1]:.1f} of {source_rate:.1f} frames/s, "
                f"{captions[-1]:.1f} captions/s (bare {rate:.1f}), latency {latencies[-1]:.0f} ms (bare {ms:.0f}), "
                f"stall {stalls[-1]:.1f} ms (idle {idle[-1]:.1f})")
    k = shown_ratio.index(sorted(shown_ratio)[len(shown_ratio) // 2])  # the median run
    rows = [
        Row("caption_frames_shown", shown[k], source_rates[k], "frames/s", f">= {SHOWN_GOAL}", shown_ratio[k] >= SHOWN_GOAL),
        Row("caption_rate", median(captions), median(source_rates), "captions/s", "info", None),
        Row("caption_latency", median(latencies), median(bare_ms), "ms", "info", None),
        Row("caption_gui_stall", median(stalls), median(idle), "ms", f"<= {STALL_GOAL_MS:.0f} ms", None),
    ]
    rows[3].met = rows[3].rnnstudio <= STALL_GOAL_MS
    rows[0].notes.append(
        f"the generated camera-look stream at {CAMERA_FPS:.0f} frames/s through the capture thread into the "
        f"panel, the shipped captioner captioning the newest frame meanwhile, {seconds:.0f} s a run; baseline: the "
        f"frames the source delivered per second; ratios {spread(shown_ratio, '{:.3f}')}")
    rows[1].notes.append(
        f"captions finished per second while the video plays, against the most there can be: one per new frame "
        f"(the newest frame wins); rnnstudio {spread(captions, '{:.1f}')}. The shipped captioner alone (greedy, "
        f"a bare loop on the main thread) manages {spread(bare_rates, '{:.0f}')} captions/s on this machine")
    rows[2].notes.append(
        f"median time from a frame's capture to its caption on screen, against one bare caption's compute "
        f"time; rnnstudio {spread(latencies, '{:.0f}')}, baseline {spread(bare_ms, '{:.0f}')}")
    rows[3].notes.append(
        f"longest gap of a {1000 * probe.interval:.0f} ms GUI timer while the stream plays and is captioned, against "
        f"the same probe with the stream stopped; rnnstudio {spread(stalls, '{:.1f}')}, idle {spread(idle, '{:.1f}')}; "
        f"less the GUI thread's waits for a core (other processes) {spread(own, '{:.1f}')}")
    return rows


def case_caption_memory(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    from rnnstudio.media.sources import GeneratedSource

    frames_total = 10_000
    with CaptionApp(threads, device) as app:
        panel = app.caption_panel
        # As fast as the machine goes, a new scene every 10 frames: 10,000 frames in seconds,
        # each shown, the newest always being captioned.
        app.play(GeneratedSource(seed=3, fps=2000, seconds_per_scene=10 / 2000, camera=True))
        t0 = time.perf_counter()
        wait_until(lambda: panel.capture.frames_read >= 1000, 300, "1,000 frames")
        after_1000 = rss_mb()
        wait_until(lambda: panel.capture.frames_read >= frames_total, 900, f"{frames_total:,} frames")
        after_all = rss_mb()
        elapsed = time.perf_counter() - t0
        captions = len(panel._caption_times)
        app.stop()
    growth = after_all - after_1000
    row = Row("caption_memory", after_all, after_1000, "MB", f"growth <= {MEMORY_GOAL_MB:.0f} MB", growth <= MEMORY_GOAL_MB)
    row.notes.append(
        f"resident memory after {frames_total:,} frames of the generated camera-look stream (shown and captioned, "
        f"{elapsed:.0f} s) minus after 1,000: {growth:+.1f} MB; {captions} captions in the panel's recent list")
    return [row]
