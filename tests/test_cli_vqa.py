"""`rnnstudio train vqa`, `rnnstudio vqa` and `rnnstudio eval vqa` (docs/COMMAND-LINE.md), bad input included."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from cli_helpers import assert_one_line_error, call_main, write_test_pictures

from rnnstudio.cli import main
from rnnstudio.data.scene_questions import one_per_type
from rnnstudio.data.shapes import Scene, Shape, random_scene, render
from rnnstudio.nn.vqa import MAX_QUESTION_WORDS, load_vqa
from rnnstudio.train.vqa import EVAL_STREAM

TINY = ["--steps", "6", "--batch", "8", "--channels", "16", "--film", "8", "--hidden", "16", "--embed", "8",
        "--fused", "16", "--eval-scenes", "4", "--eval-every", "3", "--log-every", "3", "--workers", "0",
        "--device", "cpu", "--seed", "1"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import contextlib
    import io

    out = tmp_path_factory.mktemp("vqa") / "vqa.safetensors"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["train", "vqa", *TINY, "--out", str(out)])
    assert code == 0, err.getvalue()
    return out, err.getvalue()


RED_CIRCLE_LEFT = Scene((Shape("circle", "red", "large", 0.25, 0.5, 0.0, 0.17),
                         Shape("triangle", "blue", "large", 0.75, 0.5, 0.0, 0.17)))


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return write_test_pictures(tmp_path_factory.mktemp("pictures"), render(RED_CIRCLE_LEFT, 64))


def test_train_vqa_writes_a_model_with_metrics(model):
    out, log = model
    assert "iter" in log and "held out" in log and "valid: accuracy" in log and str(out) in log
    loaded = load_vqa(out)
    assert loaded.model.config.hidden == 16 and loaded.model.config.film == 8
    metrics = loaded.trained["metrics"]
    for key in ("accuracy_valid", "accuracy_scenes", "accuracy_camera", "accuracy_single", "by_type_scenes"):
        assert key in metrics
    assert set(metrics["by_type_valid"]) == {"colour", "shape", "yes/no"}
    assert loaded.trained["steps"] == 6 and loaded.trained["settings"]["seed"] == 1


def test_vqa_json_format(model, pictures, capsys):
    out, _ = model
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", "--topk", "4", "--device", "cpu",
                                pictures["plain"], "What colour is the shape left of the triangle, please?")
    assert code == 0, err
    doc = json.loads(text)
    assert set(doc) == {"question", "answers", "unknown_words"}
    assert doc["question"] == "What colour is the shape left of the triangle, please?"
    assert doc["unknown_words"] == ["please"]
    assert len(doc["answers"]) == 4 and all(set(a) == {"answer", "p"} and 0 <= a["p"] <= 1 for a in doc["answers"])
    ps = [a["p"] for a in doc["answers"]]
    assert ps == sorted(ps, reverse=True)


def test_vqa_plain_output(model, pictures, capsys):
    out, _ = model
    code, text, err = call_main(capsys, "vqa", "--model", out, "--topk", "2", "--device", "cpu", pictures["plain"],
                                "is there a purple circle?")
    assert code == 0, err
    lines = text.splitlines()
    assert len(lines) == 2 and all(len(line.split("\t")) == 2 for line in lines)
    assert "purple" in err and "Traceback" not in err


def test_vqa_batch_keeps_the_order_and_the_image_as_written(model, pictures, capsys, tmp_path, monkeypatch):
    out, _ = model
    batch = tmp_path / "questions.jsonl"
    other = tmp_path / "other.png"
    cv2.imwrite(str(other), render(random_scene(np.random.default_rng(2)), 64)[..., ::-1])
    lines = [{"image": str(pictures["plain"]), "question": "how many shapes are there?"},
             {"image": "other.png", "question": "is there a red circle?"},  # beside the file
             {"image": str(pictures["plain"]), "question": "what shape is in the image?"}]
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    monkeypatch.chdir(pictures["plain"].parent)
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", "--batch", batch, "--device", "cpu")
    assert code == 0, err
    doc = json.loads(text)
    assert [d["image"] for d in doc] == [line["image"] for line in lines]
    assert [d["question"] for d in doc] == [line["question"] for line in lines]
    assert all(set(d) == {"image", "question", "answers", "unknown_words"} and len(d["answers"]) == 3 for d in doc)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(lines[0]) + "\n{not json\n")
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", "--batch", bad)
    assert code == 2 and text == ""
    assert_one_line_error(err, "line 2 is not valid JSON (column 2: ")
    bad.write_text(json.dumps({"image": str(pictures["plain"]), "question": ""}) + "\n")
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", "--batch", bad)
    assert code == 2 and text == ""
    assert_one_line_error(err, "line 1", "empty")
    bad.write_text(json.dumps({"picture": "x.png"}) + "\n")
    code, _, err = call_main(capsys, "vqa", "--model", out, "--json", "--batch", bad)
    assert code == 2 and "needs an \"image\"" in assert_one_line_error(err)
    bad.write_text("\n")
    code, _, err = call_main(capsys, "vqa", "--model", out, "--json", "--batch", bad)
    assert code == 2 and "no questions" in assert_one_line_error(err)


@pytest.mark.parametrize("question, fragment", [
    ("", "empty"),
    ("???", "empty"),
    ("shape " * (MAX_QUESTION_WORDS + 5), "at most"),
    ("wie viele Formen gibt es?", "knows none of the words"),
])
def test_bad_questions_exit_2_with_one_line(model, pictures, capsys, question, fragment):
    out, _ = model
    code, text, err = call_main(capsys, "vqa", "--model", out, pictures["plain"], question)
    assert code == 2 and text == ""
    assert_one_line_error(err, fragment)


@pytest.mark.parametrize("kind, fragment", [
    ("text", "is not a picture"), ("empty", "is empty"), ("missing", "does not exist")])
def test_bad_pictures_exit_2_with_one_line(model, pictures, capsys, kind, fragment):
    out, _ = model
    path = pictures.get(kind, pictures["plain"].parent / "missing.png")
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", path, "what color is the shape?")
    assert code == 2 and text == ""
    assert_one_line_error(err, str(path), fragment)


@pytest.mark.parametrize("kind", ["grey", "alpha", "huge"])
def test_unusual_pictures_are_answered(model, pictures, capsys, kind):
    out, _ = model
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", "--device", "cpu", pictures[kind],
                                "what color is the shape?")
    assert code == 0, err
    assert json.loads(text)["answers"]


def test_bad_arguments_exit_2(model, pictures, capsys, tmp_path, tiny_model_file):
    out, _ = model
    code, _, err = call_main(capsys, "vqa", "--model", tiny_model_file, pictures["plain"], "what color is the shape?")
    assert code == 2 and "not a vqa model" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "vqa", "--model", out, pictures["plain"])
    assert code == 2 and "give a picture and a question" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "vqa", "--model", out, "--topk", "0", pictures["plain"], "what?")
    assert code == 2 and "--topk" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "vqa", "--model", out, "--batch", tmp_path / "none.jsonl")
    assert code == 2 and "does not exist" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "eval", "vqa", "--model", out, "--split", "train")
    assert code == 2 and "--split" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "train", "vqa", "--out", tmp_path / "no" / "m.safetensors")
    assert code == 2 and "does not exist" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "train", "vqa", "--easyvqa-fraction", "0.8", "--camera-fraction", "0.5",
                             "--out", tmp_path / "m.safetensors")
    assert code == 2 and "add up to more than 1" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "train", "vqa", "--shape-counts", "1,2", "--out", tmp_path / "m.safetensors")
    assert code == 2 and "--shape-counts" in assert_one_line_error(err)


def test_eval_vqa_prints_accuracy_by_type_and_confusion(model, capsys):
    out, _ = model
    code, text, err = call_main(capsys, "eval", "vqa", "--model", out, "--split", "camera", "--scenes", "12",
                                "--device", "cpu")
    assert code == 0, err
    doc = json.loads(text)
    assert 0 <= doc["accuracy"] <= 1 and doc["questions"] >= 12 and doc["split"] == "camera"
    assert set(doc["by_type"]) <= {"colour", "shape", "yes/no", "count", "relation"}
    assert sum(v["questions"] for v in doc["by_type"].values()) == doc["questions"]
    matrix = np.array(doc["confusion"]["matrix"])
    assert matrix.shape == (17, 17) and matrix.sum() == doc["questions"]
    assert np.trace(matrix) == round(doc["accuracy"] * doc["questions"])


def test_shipped_model_answers_the_contract_forms(tmp_path, capsys):
    """The shipped model (the default --model): the contract's questions about a known scene."""
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), render(RED_CIRCLE_LEFT, 64)[..., ::-1])
    expected = {
        "how many shapes are there?": "2",
        "how many red shapes are there?": "1",
        "how many circles are there?": "1",
        "is there a blue triangle?": "yes",
        "is there a blue circle?": "no",
        "what color is the shape left of the triangle?": "red",
        "what shape is right of the red circle?": "triangle",
        "what color is the triangle?": "blue",
    }
    batch = tmp_path / "q.jsonl"
    batch.write_text("".join(json.dumps({"image": str(path), "question": q}) + "\n" for q in expected))
    code, text, err = call_main(capsys, "vqa", "--json", "--batch", batch, "--device", "cpu")
    assert code == 0, err
    got = {d["question"]: d["answers"][0]["answer"] for d in json.loads(text)}
    assert got == expected


def test_shipped_model_answers_unseen_scenes(tmp_path, capsys):
    """Questions of every type about plain scenes from the evaluation stream."""
    lines, truth = [], []
    for i in range(12):
        rng = np.random.default_rng([EVAL_STREAM, 77, i])
        scene = random_scene(rng, n_shapes=1 + i % 3)
        path = tmp_path / f"s{i}.png"
        cv2.imwrite(str(path), render(scene, 64)[..., ::-1])
        for q in one_per_type(scene, rng):
            lines.append({"image": str(path), "question": q.question})
            truth.append(q.answer)
    batch = tmp_path / "q.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, text, err = call_main(capsys, "vqa", "--json", "--batch", batch, "--device", "cpu")
    assert code == 0, err
    answered = [d["answers"][0]["answer"] for d in json.loads(text)]
    right = sum(a == t for a, t in zip(answered, truth))
    assert right >= 0.95 * len(truth), list(zip([line["question"] for line in lines], answered, truth))


# --- output as it comes, and pictures or models that used to end badly ----------------------------


def test_a_batch_streams_its_answers_with_progress_and_names_the_line_of_a_bad_picture(
        model, pictures, capsys, tmp_path, monkeypatch):
    import rnnstudio.cli.common

    monkeypatch.setattr(rnnstudio.cli.common, "PROGRESS_EVERY_S", 0.0)  # progress after every answer, not every second
    out, _ = model
    batch = tmp_path / "q.jsonl"
    lines = [{"image": str(pictures["plain"]), "question": "how many shapes are there?"},
             {"image": str(pictures["grey"]), "question": "what shape is it?"},
             {"image": str(pictures["text"]), "question": "what color is it?"}]  # a text file named .png
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, text, err = call_main(capsys, "vqa", "--model", out, "--json", "--batch", batch, "--device", "cpu")
    assert code == 2
    # The answers before the bad picture were written as they came, as a list that is valid JSON.
    assert [d["question"] for d in json.loads(text)] == [lines[0]["question"], lines[1]["question"]]
    assert err.splitlines()[:2] == ["answered 1 of 3", "answered 2 of 3"]
    assert_one_line_error(err, f"{batch} line 3: ", str(pictures["text"]), "is not a picture", after_progress=True)


def overflowing(path, out):
    """The model at `path` with its last layers' weights near float32's largest: finite, so the
    file loads, but its answer logits overflow to infinity and its probabilities are NaN."""
    from rnnstudio.nn.vqa import save_vqa

    loaded = load_vqa(path)
    with torch.no_grad():
        for layer in (loaded.model.hidden_layer, loaded.model.classify):
            layer.weight.fill_(3e38)
            layer.bias.fill_(3e38)
    save_vqa(out, loaded.model, loaded.trained)
    return out


def test_a_probability_that_is_not_a_number_is_null_in_valid_json(model, pictures, capsys, tmp_path):
    bad = overflowing(model[0], tmp_path / "overflow.safetensors")
    code, text, err = call_main(capsys, "vqa", "--model", bad, "--json", "--device", "cpu", pictures["plain"],
                                "what color is the shape?")
    assert code == 0, err

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    doc = json.loads(text, parse_constant=refuse)
    assert [a["p"] for a in doc["answers"]] == [None] * 3
    assert "not numbers (NaN)" in err


def png_with_warnings(path, damaged: bool):
    """A PNG with a bad checksum in a text chunk, which makes libpng print a warning; `damaged`:
    cut short as well, so that it cannot be decoded."""
    import struct

    ok, data = cv2.imencode(".png", render(RED_CIRCLE_LEFT, 64)[..., ::-1])
    data = data.tobytes()
    body = b"Comment\x00hello"
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + b"\x00\x00\x00\x00"  # CRC 0: wrong
    data = data[:33] + chunk + data[33:]  # after the signature (8) and the header chunk (25)
    path.write_bytes(data[: len(data) // 2] if damaged else data)
    return path


def test_libpng_warnings_do_not_reach_standard_error(model, tmp_path):
    from cli_helpers import run_cli

    out, _ = model
    warned = png_with_warnings(tmp_path / "warned.png", damaged=False)
    proc = run_cli("vqa", "--model", out, "--device", "cpu", warned, "what color is the shape?")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    damaged = png_with_warnings(tmp_path / "damaged.png", damaged=True)
    proc = run_cli("caption", "--device", "cpu", warned, damaged)
    assert proc.returncode == 2 and proc.stdout.startswith(f"{warned}: ")
    assert_one_line_error(proc.stderr, f"{damaged} is not a picture")
