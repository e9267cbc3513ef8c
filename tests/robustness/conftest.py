"""Robustness fixtures: the real worker and window, tiny model files of every task, fault injection."""

from __future__ import annotations

import pytest
import torch
from worker_helpers import WAIT_MS, Recorder

class Client:
    """Submit a request to the real worker and wait for how it ended."""

    def __init__(self, worker, qtbot):
        self.worker, self.qtbot = worker, qtbot
        self.recorder = Recorder(worker)

    def wait(self, request_id: int, expect: str = "result_ready"):
        self.qtbot.waitUntil(lambda: self.recorder.final(request_id) is not None, timeout=WAIT_MS)
        kind, response = self.recorder.final(request_id)
        if kind != expect and kind == "errored":
            pytest.fail(f"request {request_id} failed: {response.payload.message}")
        assert kind == expect, (kind, response)
        return response.payload

    def run(self, request, expect: str = "result_ready"):
        return self.wait(self.worker.submit(request), expect)


@pytest.fixture
def client(worker, qtbot):
    return Client(worker, qtbot)


# --- tiny models of every task (untrained unless said: robustness needs shapes, not skill) ---


def tiny_captioner(seed: int = 0):
    from rnnstudio.data.shapes import caption_words
    from rnnstudio.nn.captioner import SPECIALS, Captioner, CaptionerConfig

    torch.manual_seed(seed)
    vocab = SPECIALS + caption_words()
    config = CaptionerConfig(vocab_size=len(vocab), channels=16, hidden=24, embed=8, attention=16, max_len=6)
    return Captioner(config, vocab).eval()


def tiny_vqa(seed: int = 0):
    from rnnstudio.data import easyvqa
    from rnnstudio.data.scene_questions import answers, question_words
    from rnnstudio.nn.vqa import SPECIALS, VQAConfig, VQAModel

    torch.manual_seed(seed)
    vocab = SPECIALS + question_words()
    # easy-VQA's answers too, so that an evaluation on it can score every question
    all_answers = tuple(dict.fromkeys(answers() + easyvqa.answers()))
    config = VQAConfig(vocab_size=len(vocab), answers=all_answers, channels=16, film=8, squeeze=4, embed=8,
                       hidden=12, fused=16, attention=8)
    return VQAModel(config, vocab).eval()


@pytest.fixture(scope="session")
def caption_model():
    """A tiny untrained captioner, shared by the tests that only read it."""
    return tiny_captioner()


@pytest.fixture(scope="session")
def vqa_model():
    """A tiny untrained VQA model, shared by the tests that only read it."""
    return tiny_vqa()


@pytest.fixture
def caption_file(tmp_path):
    from rnnstudio.nn.captioner import save_captioner

    path = tmp_path / "tiny-caption.safetensors"
    save_captioner(path, tiny_captioner(), {"steps": 0})
    return path


@pytest.fixture
def vqa_file(tmp_path):
    from rnnstudio.nn.vqa import save_vqa

    path = tmp_path / "tiny-vqa.safetensors"
    save_vqa(path, tiny_vqa(), {"steps": 0})
    return path


@pytest.fixture
def shipped_models(tmp_path):
    """Tiny captioning and VQA models where the `window` fixture's app looks for the shipped
    ones (request this fixture before `window`)."""
    from rnnstudio.nn.captioner import save_captioner
    from rnnstudio.nn.vqa import save_vqa
    from rnnstudio.paths import SHIPPED_MODELS

    folder = tmp_path / "models"
    folder.mkdir(exist_ok=True)
    save_captioner(folder / SHIPPED_MODELS["caption"], tiny_captioner(), {"steps": 0})
    save_vqa(folder / SHIPPED_MODELS["vqa"], tiny_vqa(), {"steps": 0})
    return folder


# --- fault injection ----------------------------------------------------------------------


class InjectedFault(RuntimeError):
    """The exception the fault tests inject: an internal failure, as a bug would raise."""


@pytest.fixture
def fail_once(monkeypatch):
    """fail_once(owner, name, after=0): call number `after` + 1 of owner.name raises InjectedFault
    (or `exc`); every other call runs the real function. Returns the list of faults raised."""

    def install(owner, name: str, after: int = 0, exc: BaseException | None = None) -> list[str]:
        real = getattr(owner, name)
        calls = [0]
        raised: list[str] = []

        def wrapper(*args, **kwargs):
            calls[0] += 1
            if calls[0] == after + 1:
                raised.append(name)
                raise exc or InjectedFault(f"injected fault in {name}")
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)
        return raised

    return install
