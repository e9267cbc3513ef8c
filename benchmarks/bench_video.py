"""Live video (issue 15): frames shown against the source's rate, frames the LSTM reads against
the frames of the clips shown, the worker's time per frame against a bare ClipReader loop, and
the GUI's longest stall while clips play and are read.

No camera exists on these machines: generated clips with the camera look, at a camera's 30
frames/s, stand in for one, through the same capture thread, panel and worker a camera would use.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench_common import STALL_GOAL_MS, App, Row, Settings, StallProbe, log, median, run_events, spread, wait_until

CAMERA_FPS = 30.0
SHOWN_GOAL = 0.95


class VideoApp(App):
    """The app with the video panel in front and the shipped video model open."""

    def __init__(self, threads: int, device: str):
        super().__init__(threads, device)
        self.window.show_panel("video")
        self.video_panel = self.window.panels["video"]
        wait_until(lambda: self.video_panel.model is not None, 60, "the shipped video model to load")

    def play(self, source) -> None:
        self.video_panel.capture.start(source)

    def stop(self) -> None:
        self.video_panel.stop_source()
        run_events(0.1)


def _bare_reading(frames, seconds: float, device: str) -> tuple[float, float]:
    """Read `frames` with a ClipReader on this thread for `seconds`: (frames/s, median ms a frame)."""
    from rnnstudio.nn.video import ClipReader, load_video_model
    from rnnstudio.paths import shipped_model

    reader = ClipReader(load_video_model(shipped_model("video"), device).model, device)
    times = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        reader.reset()
        for frame in frames:
            t0 = time.perf_counter()
            reader.step(frame)
            times.append(time.perf_counter() - t0)
    return len(times) / sum(times), 1000 * median(times)


def case_video_live(cfg: Settings, threads: int, device: str, tmp: Path) -> list[Row]:
    import torch

    from rnnstudio.data.clips import make_clip
    from rnnstudio.media.clip_sources import GeneratedClipSource

    torch.set_num_threads(threads)
    seconds = max(3.0, 1.25 * cfg.stall_seconds)
    frames = make_clip(1, camera=True, size=64, frames=24).frames
    shown_ratio, shown, source_rates, read_ratio, frame_ms, stalls, idle, own = [], [], [], [], [], [], [], []
    bare_rates, bare_ms = [], []
    with VideoApp(threads, device) as app:
        panel = app.video_panel
        probe = StallProbe()
        counts = {"shown": 0, "clip_frames": 0}

        def on_frame() -> None:  # after the panel's own slot: its shown_frame is this frame
            counts["shown"] += 1
            truth = getattr(panel.shown_frame, "truth", None)
            counts["clip_frames"] += not getattr(truth, "hold", False)

        def drained() -> bool:
            return not panel._in_flight and not panel._pending

        panel.capture.frame_ready.connect(on_frame)
        _bare_reading(frames[:4], 0.2, device)  # warm-up
        for i in range(cfg.stall_repeats):
            rate, ms = _bare_reading(frames, 0.5, device)
            bare_rates.append(rate)
            bare_ms.append(ms)
            probe.start()
            run_events(cfg.stall_seconds)
            idle.append(probe.stop())
            counts.update(clip_frames=0)
            model0 = panel.frames_read
            app.play(GeneratedClipSource(seed=i, camera=True, size=panel.model.image_size, fps=CAMERA_FPS))
            run_events(0.5)  # the first clip is drawn and read; then measure
            counts.update(shown=0)
            read0, t0 = panel.capture.frames_read, time.perf_counter()
            panel._frame_ms.clear()
            probe.start()
            run_events(seconds)
            stalls.append(probe.stop())
            own.append(probe.own_ms)
            elapsed = time.perf_counter() - t0
            clip_frames = counts["clip_frames"]
            panel.capture.stop()
            wait_until(drained, 30, "the frames still with the worker")
            source_rate = (panel.capture.frames_read - read0) / elapsed
            shown.append(counts["shown"] / elapsed)
            source_rates.append(source_rate)
            shown_ratio.append(shown[-1] / source_rate)
            read_ratio.append((panel.frames_read - model0) / max(clip_frames, 1))
            frame_ms.append(median(list(panel._frame_ms)) if panel._frame_ms else float("nan"))
            app.stop()
            log(f"  video_live {i + 1}/{cfg.stall_repeats}: shown {shown[-1]:.1f} of {source_rate:.1f} frames/s, "
                f"read {read_ratio[-1]:.3f} of the clips' frames, {frame_ms[-1]:.1f} ms a frame (bare {ms:.1f}), "
                f"stall {stalls[-1]:.1f} ms (idle {idle[-1]:.1f})")
    k = shown_ratio.index(sorted(shown_ratio)[len(shown_ratio) // 2])  # the median run
    rows = [
        Row("video_frames_shown", shown[k], source_rates[k], "frames/s", f">= {SHOWN_GOAL}",
            shown_ratio[k] >= SHOWN_GOAL),
        Row("video_frames_read", median(read_ratio), 1.0, "share", "info", None),
        Row("video_frame_time", median(frame_ms), median(bare_ms), "ms", "info", None),
        Row("video_gui_stall", median(stalls), median(idle), "ms", f"<= {STALL_GOAL_MS:.0f} ms", None),
    ]
    rows[3].met = rows[3].rnnstudio <= STALL_GOAL_MS
    rows[0].notes.append(
        f"generated camera-look clips at {CAMERA_FPS:.0f} frames/s through the capture thread into the panel, "
        f"the shipped LRCN reading every frame shown meanwhile, {seconds:.0f} s a run; baseline: the frames the "
        f"source delivered per second; ratios {spread(shown_ratio, '{:.3f}')}")
    rows[1].notes.append(
        f"frames the LSTM read, of the clips' frames shown (the pauses between clips are shown, not read); "
        f"{spread(read_ratio, '{:.3f}')}")
    rows[2].notes.append(
        f"the worker's time per frame (fit to 64 x 64, encode, one LSTM step, the baseline), against a bare "
        f"ClipReader loop on the main thread: {spread(frame_ms, '{:.1f}')} against {spread(bare_ms, '{:.1f}')} ms; "
        f"the bare loop reads {spread(bare_rates, '{:.0f}')} frames/s")
    rows[3].notes.append(
        f"longest gap of a {1000 * probe.interval:.0f} ms GUI timer while clips play and are read, against the same "
        f"probe with nothing playing; rnnstudio {spread(stalls, '{:.1f}')}, idle {spread(idle, '{:.1f}')}; less the "
        f"GUI thread's waits for a core (other processes) {spread(own, '{:.1f}')}")
    return rows
