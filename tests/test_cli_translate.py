"""`rnnstudio translate`, `rnnstudio eval translate` and `rnnstudio train translate`
(docs/COMMAND-LINE.md): the JSON contract, batches in order with a bad line answered in its
place, and every bad input one line and status 2."""

from __future__ import annotations

import json

import pytest
from cli_helpers import assert_one_line_error, call_main
from translate_helpers import train_tiny_translator

KEYS = {"source", "translation", "tokens", "source_tokens", "attention", "nbest", "unknown"}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("translate") / "tiny.safetensors"
    train_tiny_translator(path)
    return path


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    path = tmp_path_factory.mktemp("translate-plain") / "plain.safetensors"
    train_tiny_translator(path, attention="none")
    return path


def test_json_is_one_object_of_the_contract(capsys, model):
    code, out, err = call_main(capsys, "translate", "--model", model, "--beam", "3", "--json", "Je suis content.")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == KEYS and result["source"] == "Je suis content." and result["translation"] == "I am happy."
    assert result["tokens"] == ["i", "am", "happy", "."] and result["source_tokens"] == ["Je", "suis", "content", "."]
    assert len(result["attention"]) == 4 and all(len(row) == 4 for row in result["attention"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in result["attention"])
    assert len(result["nbest"]) == 3 and result["nbest"][0]["translation"] == result["translation"]
    assert all(isinstance(n["logprob"], float) for n in result["nbest"]) and result["unknown"] == []


def test_without_attention_the_attention_is_null_and_unknown_words_are_listed(capsys, plain):
    code, out, err = call_main(capsys, "translate", "--model", plain, "--json", "Tom est zorglub.")
    assert code == 0, err
    result = json.loads(out)
    assert result["attention"] is None and result["unknown"] == ["zorglub"]


def test_plain_text_without_json(capsys, model):
    code, out, _err = call_main(capsys, "translate", "--model", model, "--beam", "1", "Il est fatigué.")
    assert code == 0 and out == "He is tired.\n"


def test_a_batch_is_one_object_a_line_in_order_a_bad_line_an_error(capsys, model, tmp_path):
    lines = ["Je suis content.", "", "I am happy today my friend", "😀 🚗", "zorglub", "Je suis " * 250,
             "Tu es prêt."]
    batch = tmp_path / "in.txt"
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = call_main(capsys, "translate", "--model", model, "--json", "--batch", batch)
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["source"] for r in results] == lines
    assert [("error" in r) for r in results] == [False, True, True, True, True, True, False]
    assert "English" in results[2]["error"] and set(results[0]) == KEYS
    assert results[-1]["translation"] == "You are ready."
    assert f"{batch} line 3:" in err  # each bad line named on standard error too


@pytest.mark.parametrize("text, fragment", [
    ("", "nothing to translate"), ("I am happy today my friend", "looks like English"),
    ("zorglub blimp", "knows none"), ("😀", "knows none"), ("Je suis " * 250, "one sentence"),
    ("中文", "knows none"),
], ids=["empty", "english", "unknown-words", "emoji", "500-words", "other-script"])
def test_bad_text_exits_2_with_one_line(capsys, model, text, fragment):
    code, out, err = call_main(capsys, "translate", "--model", model, "--json", text)
    assert code == 2 and out == ""
    assert_one_line_error(err, fragment)


def test_bad_files_and_options_exit_2_with_one_line(capsys, model, tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Je suis fatigué.\n".encode("latin-1"))
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    for args, fragment in (
        (("--batch", latin1), "UTF-8"), (("--batch", binary), ""), (("--batch", tmp_path / "none.txt"), ""),
        (("--batch", latin1, "Je suis content."), "not both"), ((), "give a French sentence"),
        (("--beam", "50", "Je suis content."), "too wide"),
    ):
        code, out, err = call_main(capsys, "translate", "--model", model, *map(str, args))
        assert code == 2 and out == "", (args, err)
        assert_one_line_error(err, fragment)
    code, _out, err = call_main(capsys, "translate", "--model", tmp_path / "none.safetensors", "Il est grand.")
    assert code == 2
    assert_one_line_error(err)


def test_eval_prints_bleu_and_chrf_of_the_test_split(capsys, model):
    code, out, err = call_main(capsys, "eval", "translate", "--model", model, "--beam", "1")
    assert code == 0, err
    figures = json.loads(out)
    assert {"bleu", "chrf", "pairs", "by_length", "bleu_signature", "chrf_signature"} <= set(figures)
    assert figures["pairs"] > 1000 and 0 <= figures["bleu"] <= 100 and 0 <= figures["chrf"] <= 100
    assert "translations" not in figures


def test_train_writes_a_model_that_translates(capsys, tmp_path):
    out_file = tmp_path / "trained.safetensors"
    code, _out, err = call_main(capsys, "train", "translate", "--steps", "4", "--hidden", "16", "--embed", "8",
                                "--batch", "8", "--eval-every", "2", "--beam", "1", "--device", "cpu",
                                "--out", out_file)
    assert code == 0, err
    assert "valid BLEU" in err and "test (" in err and f"wrote {out_file}" in err
    code, out, err = call_main(capsys, "translate", "--model", out_file, "--json", "Je suis content.")
    assert code == 0, err
    assert set(json.loads(out)) == KEYS


def test_train_refuses_bad_options_before_any_work(capsys, tmp_path):
    for args, fragment in ((("--hidden", "15"), "even"), (("--teacher-forcing", "2"), "between 0 and 1"),
                           (("--out", tmp_path / "no" / "m.safetensors"), "")):
        full = ["train", "translate", *map(str, args)]
        if "--out" not in full:
            full += ["--out", str(tmp_path / "m.safetensors")]
        code, _out, err = call_main(capsys, *full)
        assert code == 2, (args, err)
        assert_one_line_error(err, fragment)
