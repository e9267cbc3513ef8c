"""Shared fixtures: an offscreen Qt platform, a really trained tiny model, thread hygiene."""

from __future__ import annotations

import os

# Before any Qt import: tests never need a display server. The end-to-end run under a real
# X server (tests/e2e) asks for its platform through RNNSTUDIO_TEST_QPA.
os.environ["QT_QPA_PLATFORM"] = os.environ.get("RNNSTUDIO_TEST_QPA", "offscreen")

import rnnstudio  # noqa: E402, F401  (first, as in the app: it sets OpenCV's picture-size limit)

import faulthandler  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

# One thread: these models are tiny, and on a small, busy machine torch's worker threads
# spin against each other and against whatever else runs (35x slower measured here).
torch.set_num_threads(1)

WORKER_THREAD_NAME = "rnnstudio-device-worker"


def repetitive_text(repeats: int = 60) -> str:
    """A small, very learnable text with a handful of distinct characters."""
    verse = "the cat sat on the mat.\nthe dog sat on the log.\n"
    return verse * repeats


def train_tiny(text: str | None = None, arch: str = "lstm", hidden: int = 16, layers: int = 1, embed: int = 8,
               steps: int = 20, seed: int = 0, seq_len: int = 16, batch_size: int = 8, lr: float = 1e-2,
               planned: int | None = None):
    """A real CharRNNTrainer at a tiny size, stepped `steps` times.

    `planned` is the run length the learning rate decays over (default: `steps`).
    """
    from rnnstudio.data.text import split_for_validation, text_to_codepoints
    from rnnstudio.nn.charrnn import CharRNNConfig
    from rnnstudio.train.charrnn import CharRNNTrainer, TrainSettings

    corpus = split_for_validation("tiny", text_to_codepoints(text or repetitive_text()), fraction=0.1)
    config = CharRNNConfig(vocab_size=1, arch=arch, layers=layers, hidden=hidden, embed=embed)
    settings = TrainSettings(
        seq_len=seq_len, batch_size=batch_size, lr=lr, steps=planned or max(steps, 1), seed=seed, valid_windows=8
    )
    torch.manual_seed(seed)
    trainer = CharRNNTrainer(corpus, config, settings, device="cpu")
    for _ in range(steps):
        trainer.step()
    return trainer


@pytest.fixture
def tiny_trainer():
    """The `train_tiny` helper, for test modules (they cannot import conftest)."""
    return train_tiny


@pytest.fixture
def tiny_model_file(tmp_path):
    """A tiny LSTM (1 x 16) trained for real for a few steps, saved as a model file."""
    from rnnstudio.nn.charrnn import save_charrnn

    trainer = train_tiny(steps=20)
    trainer.validate()
    path = tmp_path / "tiny-lstm.safetensors"
    save_charrnn(path, trainer.model, trainer.vocab.chars, trainer.trained_info())
    return path


@pytest.fixture
def tiny_text_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(repetitive_text(), encoding="utf-8")
    return path


# No test here needs a minute; one that hangs (a deadlock, a crashed Qt binding) would
# otherwise hold CI until its own limit. This prints every thread's stack and exits.
HANG_LIMIT_S = int(os.environ.get("RNNSTUDIO_TEST_HANG_S", "240"))
# Opened now, before pytest's capturing reroutes file descriptor 2 for each test (a dump into
# the capture would vanish with the exit): the real standard error, or a file if asked for.
_HANG_REPORT = open(os.environ["RNNSTUDIO_TEST_HANG_FILE"], "w") if os.environ.get("RNNSTUDIO_TEST_HANG_FILE") \
    else os.fdopen(os.dup(2), "w")


@pytest.fixture(autouse=True)
def fail_fast_on_a_hang():
    faulthandler.dump_traceback_later(HANG_LIMIT_S, exit=True, file=_HANG_REPORT)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_gui_thread(qapp):
    """As in the app (see rnnstudio/ui/garbage.py): a collection on a worker thread would
    delete the Qt objects in garbage cycles there."""
    from rnnstudio.ui.garbage import collect_garbage_on_gui_thread, stop_collecting_on_gui_thread

    yield collect_garbage_on_gui_thread(qapp)
    stop_collecting_on_gui_thread()


@pytest.fixture(autouse=True)
def collect_after_each_test(garbage_collected_on_the_gui_thread):
    """Tests that never process events would otherwise never collect a cycle."""
    yield
    garbage_collected_on_the_gui_thread.collect_due()


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Fail a test that leaves a device worker or any other non-daemon thread running."""
    before = set(threading.enumerate())
    yield
    leftover = []
    for t in threading.enumerate():
        if not t.is_alive() or t is threading.main_thread() or t in before:
            continue
        if t.name == WORKER_THREAD_NAME or not t.daemon:
            t.join(timeout=2.0)  # a thread that is just ending gets a moment
            if t.is_alive():
                leftover.append(f"{t.name} (daemon={t.daemon})")
    if leftover:
        pytest.fail(
            f"the test left threads running: {', '.join(leftover)}; call worker.shutdown() and join your threads",
            pytrace=False,
        )


def _coloured_frames(n: int = 12, size=(48, 64)):
    """Frames whose colour encodes their index, so their order survives video encoding."""
    import numpy as np

    frames = []
    for k in range(n):
        frame = np.zeros((*size, 3), dtype=np.uint8)
        red = round(255 * k / max(1, n - 1))
        frame[:, :, 0] = red
        frame[:, :, 2] = 255 - red
        frames.append(frame)
    return frames


@pytest.fixture
def coloured_frames():
    return _coloured_frames


def train_tiny_vqa(path, steps: int = 3, seed: int = 0):
    """A tiny VQA model (CNN + LSTM), trained for real for a few steps on generated scenes."""
    from rnnstudio.nn.vqa import VQAConfig, save_vqa
    from rnnstudio.train.vqa import MixedVQAData, VQATrainer, VQATrainSettings

    torch.manual_seed(seed)
    settings = VQATrainSettings(batch_size=8, questions_per_image=2, steps=steps, seed=seed, easyvqa_fraction=0.0)
    config = VQAConfig(vocab_size=1, answers=("yes", "no"), channels=16, film=8, squeeze=4, embed=8, hidden=12,
                       fused=16, attention=8)  # the trainer sets the real vocabulary and answers
    trainer = VQATrainer(MixedVQAData(config.image_size, settings), config, settings)
    losses = [trainer.step()["loss"] for _ in range(steps)]
    save_vqa(path, trainer.model, {"steps": steps})
    return losses


@pytest.fixture
def tiny_vqa_file(tmp_path):
    path = tmp_path / "tiny-vqa.safetensors"
    train_tiny_vqa(path)
    return path


@pytest.fixture
def tiny_vqa_trainer():
    """The `train_tiny_vqa` helper, for test modules (they cannot import conftest)."""
    return train_tiny_vqa


@pytest.fixture
def worker(qtbot):
    """The real device worker on the CPU, started and ready; shut down afterwards."""
    from rnnstudio.worker.device_worker import DeviceWorker

    w = DeviceWorker(device="cpu", torch_threads=1)
    try:
        w.start()
        wait_for_ready(w)
        assert w.device_name.startswith("CPU")
        yield w
    finally:
        assert w.shutdown(timeout=5.0), "the worker thread did not end"
        assert not w.running


@pytest.fixture
def recorder(worker):
    from worker_helpers import Recorder

    return Recorder(worker)


def wait_for_ready(worker, timeout_s: float = 60.0) -> None:
    """Process events until the worker has loaded PyTorch.

    A plain loop, not qtbot.waitSignal: in about one run of the whole suite in four, the
    nested event loop waitSignal runs never returned here (neither the signal nor its timeout
    arrived while the panels' start-up requests ran on the worker); with this loop the suite
    passed 4 runs in 4 (the cause in the binding or pytest-qt is not found yet).
    """
    import time

    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while worker.device_name is None:
        assert time.monotonic() < deadline, "the worker did not load PyTorch within a minute"
        QApplication.processEvents()
        time.sleep(0.005)


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """The real main window and worker on the CPU. No shipped model is found (the models folder
    is tmp_path/models, empty unless a test puts a model there), and the settings file is
    tmp_path's, never the user's own."""
    from rnnstudio.ui.app import build_window

    monkeypatch.setenv("RNNSTUDIO_MODELS", str(tmp_path / "models"))
    monkeypatch.setattr("rnnstudio.paths._CHECKOUT_ROOT", tmp_path)
    monkeypatch.setattr("sys.prefix", str(tmp_path))
    monkeypatch.setattr("sys.base_prefix", str(tmp_path))
    monkeypatch.setenv("RNNSTUDIO_SETTINGS", str(tmp_path / "settings.json"))
    win = build_window(device="cpu", torch_threads=1)
    qtbot.addWidget(win)
    win.show()
    win.worker.start()
    wait_for_ready(win.worker)
    yield win
    win.close()
    assert not win.worker.running


@pytest.fixture(autouse=True)
def polling_qtbot_wait(monkeypatch):
    """qtbot.wait (and waitUntil, which calls it) as a plain processEvents loop.

    pytest-qt runs a nested QEventLoop for it; in about one full run in four such a nested
    loop never returned while the worker thread was busy (see wait_for_ready). Same meaning,
    no nested loop."""
    import time

    from PySide6.QtWidgets import QApplication
    from pytestqt.qtbot import QtBot

    def wait(self, ms: int) -> None:
        deadline = time.monotonic() + ms / 1000
        while True:
            QApplication.processEvents()
            if time.monotonic() >= deadline:
                return
            time.sleep(0.002)

    monkeypatch.setattr(QtBot, "wait", wait)
