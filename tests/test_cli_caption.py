"""`rnnstudio train caption` and `rnnstudio caption` (docs/COMMAND-LINE.md), bad pictures included."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from cli_helpers import assert_one_line_error, call_main, run_cli, write_test_pictures

from rnnstudio.data.images import fit_square, read_image
from rnnstudio.data.shapes import random_scene, render
from rnnstudio.errors import UserError
from rnnstudio.nn.captioner import load_captioner

TINY = ["--steps", "12", "--batch", "8", "--hidden", "32", "--channels", "16", "--eval-scenes", "8",
        "--log-every", "4", "--device", "cpu", "--seed", "1"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("caption")
    out = folder / "cap.safetensors"
    proc = run_cli("train", "caption", *TINY, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    scene = random_scene(np.random.default_rng(0))
    paths = write_test_pictures(folder, render(scene, 64))
    paths["camera"] = folder / "camera.jpg"
    cv2.imwrite(str(paths["camera"]), render(scene, 240, camera=True, rng=np.random.default_rng(1))[..., ::-1])
    return paths


def test_train_caption_writes_a_model_with_metrics(model):
    out, proc = model
    assert proc.stdout == ""
    assert "iter" in proc.stderr and "object F1" in proc.stderr and str(out) in proc.stderr
    loaded = load_captioner(out)
    assert loaded.model.config.hidden == 32 and loaded.model.config.encoder == "small"
    trained = loaded.trained
    assert trained["steps"] == 12 and trained["corpus"] == "shapes"
    for key in ("object_f1_plain", "object_f1_camera", "bleu4_plain", "bleu4_camera", "grades_plain"):
        assert key in trained["metrics"]


def test_caption_json_format(model, pictures):
    out, _ = model
    proc = run_cli("caption", "--model", out, "--json", "--device", "cpu", pictures["plain"], pictures["camera"])
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [d["image"] for d in doc] == [str(pictures["plain"]), str(pictures["camera"])]
    for d in doc:
        assert set(d) == {"image", "caption", "words"}
        assert d["caption"] == " ".join(w["word"] for w in d["words"])
        assert all(set(w) == {"word", "p"} and 0 < w["p"] <= 1 for w in d["words"])


def test_caption_plain_output_and_beam(model, pictures, capsys):
    out, _ = model
    code, text, err = call_main(capsys, "caption", "--model", out, "--beam", "1", "--device", "cpu", pictures["plain"])
    assert code == 0, err
    assert len(text.splitlines()) == 1
    code, text, err = call_main(capsys, "caption", "--model", out, "--beam", "4", "--device", "cpu",
                                pictures["plain"], pictures["camera"])
    assert code == 0, err
    assert [line.split(":")[0] for line in text.splitlines()] == [str(pictures["plain"]), str(pictures["camera"])]


@pytest.mark.parametrize("kind", ["grey", "alpha", "16bit", "huge"])
def test_unusual_pictures_are_read(model, pictures, capsys, kind):
    out, _ = model
    code, text, err = call_main(capsys, "caption", "--model", out, "--json", "--device", "cpu", pictures[kind])
    assert code == 0, err
    assert json.loads(text)[0]["image"] == str(pictures[kind])


def test_read_image_conversions(pictures):
    grey = read_image(pictures["grey"])
    assert grey.shape == (64, 64, 3) and (grey[..., 0] == grey[..., 1]).all()
    alpha = read_image(pictures["alpha"])
    assert tuple(alpha[0, 0]) == (255, 255, 255)  # transparent -> white
    assert tuple(alpha[16, 16]) == (255, 0, 0)  # BGRA red -> RGB red
    deep = read_image(pictures["16bit"])
    assert deep.dtype == np.uint8 and tuple(deep[0, 0]) == (255, 128, 0)
    huge = read_image(pictures["huge"])
    assert max(huge.shape[:2]) == 4096
    assert fit_square(huge, 64).shape == (64, 64, 3)


@pytest.mark.parametrize("kind, fragment", [
    ("text", "is not a picture"), ("empty", "is empty"), ("missing", "does not exist")])
def test_bad_pictures_exit_2_with_one_line(model, pictures, capsys, kind, fragment):
    out, _ = model
    path = pictures.get(kind, pictures["plain"].parent / "missing.png")
    code, text, err = call_main(capsys, "caption", "--model", out, "--device", "cpu", pictures["plain"], path)
    # Files missing or empty are found before any output; one that is no picture, when its turn
    # comes, after the captions before it were written.
    assert code == 2
    if kind == "text":
        assert text.startswith(f"{pictures['plain']}: ") and text.count("\n") == 1
    else:
        assert text == ""
    assert_one_line_error(err, str(path), fragment)
    with pytest.raises(UserError):
        read_image(path)


def test_bad_arguments_exit_2(model, pictures, capsys, tmp_path, tiny_model_file):
    out, _ = model
    code, _, err = call_main(capsys, "caption", "--model", out, "--beam", "0", pictures["plain"])
    assert code == 2 and "--beam" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "caption", "--model", tiny_model_file, pictures["plain"])
    assert code == 2 and "not a caption model" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "train", "caption", "--out", tmp_path / "no" / "m.safetensors")
    assert code == 2 and "does not exist" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "train", "caption", "--data", tmp_path / "nothing.json",
                             "--out", tmp_path / "m.safetensors")
    assert code == 2 and "nothing.json does not exist" in assert_one_line_error(err)
    code, _, err = call_main(capsys, "train", "caption", "--encoder", "resnet18", "--encoder-weights",
                             tmp_path / "r18.pth", "--out", tmp_path / "m.safetensors")
    assert code == 2 and "r18.pth does not exist" in assert_one_line_error(err)


def test_shipped_model_describes_unseen_scenes(tmp_path, capsys):
    """The shipped captioner (the default --model) gets plain scenes it never saw right."""
    paths, truths = [], []
    for s in range(8):
        scene = random_scene(np.random.default_rng([5, s]))
        path = tmp_path / f"scene{s}.png"
        cv2.imwrite(str(path), render(scene, 64)[..., ::-1])
        paths.append(path)
        truths.append(scene)
    code, text, err = call_main(capsys, "caption", "--json", "--beam", "1", "--device", "cpu", *paths)
    assert code == 0, err
    from rnnstudio.data.shapes import caption_for, grade

    results = json.loads(text)
    assert [r["caption"] for r in results] == [caption_for(scene) for scene in truths]
    assert all(grade(r["caption"], scene) == "without errors" for r, scene in zip(results, truths))


def test_train_caption_on_a_coco_format_set(tmp_path, capsys):
    (tmp_path / "pics").mkdir()
    colours = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0)}
    doc = {"images": [], "annotations": []}
    for n, (name, bgr) in enumerate(colours.items()):
        img = np.full((50, 70, 3), 240, np.uint8)
        cv2.circle(img, (35, 25), 15, bgr, -1)
        cv2.imwrite(str(tmp_path / "pics" / f"{n}.jpg"), img)
        doc["images"].append({"id": n, "file_name": f"{n}.jpg"})
        doc["annotations"] += [{"image_id": n, "caption": f"A {name} circle."},
                               {"image_id": n, "caption": f"a {name} disc"}]
    (tmp_path / "captions.json").write_text(json.dumps(doc))
    out = tmp_path / "coco.safetensors"
    code, text, err = call_main(capsys, "train", "caption", "--data", tmp_path / "captions.json", "--images",
                                tmp_path / "pics", "--steps", "3", "--batch", "4", "--hidden", "16", "--channels", "16",
                                "--device", "cpu", "--out", out)
    assert code == 0, err
    assert text == "" and "BLEU-4" in err
    loaded = load_captioner(out)
    assert {"red", "green", "blue", "circle", "disc"} <= set(loaded.vocab)
    assert loaded.trained["corpus"] == "captions" and "bleu4_held_out" in loaded.trained["metrics"]
    (tmp_path / "pics" / "1.jpg").unlink()
    code, _, err = call_main(capsys, "train", "caption", "--data", tmp_path / "captions.json", "--images",
                             tmp_path / "pics", "--out", out)
    assert code == 2 and "1 of 3 images are missing" in assert_one_line_error(err)
