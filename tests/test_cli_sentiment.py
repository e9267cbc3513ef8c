"""`rnnstudio sentiment`, `eval sentiment` and `train sentiment`: the JSON contract and bad input."""

from __future__ import annotations

import json

import pytest
from sentiment_files import write_tiny_model

from rnnstudio.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return str(write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.safetensors"))


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_one_object_with_a_reading_per_word(capsys, model):
    code, out, err = run(capsys, "sentiment", "--model", model, "--json", "The plot was not dull 😀")
    assert code == 0, err
    result = json.loads(out)
    assert set(result) == {"text", "label", "p_positive", "words"} and result["text"] == "The plot was not dull 😀"
    assert result["label"] in ("positive", "negative") and 0 <= result["p_positive"] <= 1
    assert [w["word"] for w in result["words"]] == ["the", "plot", "was", "not", "dull", "😀"]
    assert all(set(w) == {"word", "p_positive", "contribution", "known"} for w in result["words"])
    assert [w["known"] for w in result["words"]] == [True] * 5 + [False]
    assert result["words"][-1]["p_positive"] == result["p_positive"]
    code, out, _ = run(capsys, "sentiment", "--model", model, "the film was good")
    assert code == 0 and out.split("\t")[0] in ("positive", "negative")


def test_batch_answers_every_line_in_order_and_goes_on_after_bad_ones(capsys, model, tmp_path):
    batch = tmp_path / "texts.txt"
    batch.write_bytes(b"the film was good\n\nzork blorp\nthe film \xe2\x9c\x93 was fun\n\xff\xfe not utf-8\r\n"
                      b"the plot was dull\n")
    code, out, err = run(capsys, "sentiment", "--model", model, "--batch", str(batch))
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 6
    assert rows[0]["text"] == "the film was good" and "label" in rows[0]
    assert "empty" in rows[1]["error"] and "knows none" in rows[2]["error"]
    assert "error" not in rows[3] and "UTF-8" in rows[4]["error"] and rows[4]["text"] is None
    assert rows[5]["text"] == "the plot was dull" and "label" in rows[5]


@pytest.mark.parametrize("argv, fragment", [
    (["sentiment", "--json", ""], "empty"),
    (["sentiment", "--json", "?!"], None),
    (["sentiment", "--json", "\x01\x02"], "no words"),
    (["sentiment", "--json", "Привет мир"], "knows none"),
    (["sentiment", "--json", "word " * 10_000], "at most"),
    (["sentiment"], "give a text"),
    (["sentiment", "--batch", "/nonexistent/texts.txt"], "does not exist"),
    (["sentiment", "--batch", "x.txt", "also a text"], "not both"),
], ids=["empty", "punctuation", "control", "cyrillic", "10000-words", "no-text", "no-file", "both"])
def test_bad_input_exits_2_with_one_line(capsys, model, argv, fragment):
    code, out, err = run(capsys, *argv[:1], "--model", model, *argv[1:])
    if fragment is None:  # a text of marks the model knows is read; one it does not is refused
        assert code in (0, 2)
        return
    assert code == 2 and out == ""
    assert err.startswith("rnnstudio: error:") and fragment in err and err.count("\n") == 1


def test_a_model_of_another_task_is_refused(capsys, tiny_model_file):
    code, _, err = run(capsys, "sentiment", "--model", str(tiny_model_file), "--json", "good")
    assert code == 2 and "sentiment" in err and err.count("\n") == 1


def test_eval_prints_the_test_figures_as_json(capsys, model):
    code, out, err = run(capsys, "eval", "sentiment", "--model", model)
    assert code == 0, err
    figures = json.loads(out)
    assert figures["split"] == "test" and set(figures) == {"split", "model", "vader"}
    assert 0 <= figures["model"]["accuracy"] <= 1 and set(figures["model"]["by_source"]) == {
        "movies", "tweets", "amazon", "nyt"}


def test_train_checks_its_options_before_training(capsys, tmp_path):
    code, _, err = run(capsys, "train", "sentiment", "--out", str(tmp_path))
    assert code == 2 and err.startswith("rnnstudio: error:")
    with pytest.raises(SystemExit) as usage:
        main(["train", "sentiment", "--steps", "0", "--out", str(tmp_path / "m.safetensors")])
    assert usage.value.code == 2 and "--steps" in capsys.readouterr().err


def test_the_shipped_lstm_is_the_default(capsys):
    code, out, err = run(capsys, "sentiment", "--json", "The food was really good")
    assert code == 0, err
    assert json.loads(out)["label"] == "positive"


def test_train_takes_every_setting_with_the_settings_defaults(capsys):
    from dataclasses import asdict

    from rnnstudio.cli import build_parser
    from rnnstudio.cli.sentiment import settings_from
    from rnnstudio.train.defaults import SentimentDefaults

    args = build_parser().parse_args(["train", "sentiment", "--out", "m.safetensors"])
    assert asdict(settings_from(args)) == asdict(SentimentDefaults())  # every default is the dataclass's
    args = build_parser().parse_args([
        "train", "sentiment", "--out", "m.safetensors", "--word-dropout", "0.1", "--weight-decay", "1e-5",
        "--grad-clip", "1", "--soft-targets", "0", "--average", "0", "--label-threshold", "1", "--min-count", "3"])
    chosen = settings_from(args)
    assert (chosen.word_dropout, chosen.weight_decay, chosen.grad_clip, chosen.soft_targets, chosen.average,
            chosen.label_threshold, chosen.min_count) == (0.1, 1e-5, 1.0, 0.0, 0.0, 1.0, 3)
    with pytest.raises(SystemExit):
        main(["train", "sentiment", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for option in ("--word-dropout", "--weight-decay", "--grad-clip", "--soft-targets", "--average",
                   "--label-threshold", "--min-count"):
        assert option in shown
    assert "(default 0.999)" in shown and "(default 1.5)" in shown


@pytest.mark.parametrize("option, value", [
    ("--word-dropout", "1"), ("--word-dropout", "-0.1"), ("--weight-decay", "-1"), ("--grad-clip", "0"),
    ("--soft-targets", "nan"), ("--average", "1"), ("--label-threshold", "4"), ("--label-threshold", "x"),
    ("--min-count", "0"),
])
def test_train_refuses_a_bad_setting_with_one_line_before_training(capsys, tmp_path, option, value):
    out = str(tmp_path / "m.safetensors")
    try:
        code = main(["train", "sentiment", option, value, "--out", out])
    except SystemExit as e:  # argparse's own refusal
        code = e.code
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "error" in err
    assert not (tmp_path / "m.safetensors").exists()
