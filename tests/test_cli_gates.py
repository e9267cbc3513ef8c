"""`rnnstudio gates --json` (docs/COMMAND-LINE.md) and its bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_helpers import assert_one_line_error, call_main

from rnnstudio.nn.charrnn import CharRNN, CharRNNConfig, load_charrnn, save_charrnn
from rnnstudio.nn.gates import trace_gates


def test_gates_json(tiny_model_file, capsys):
    text = "the cat sat.\nthe dog"
    code, out, err = call_main(capsys, "gates", "--model", tiny_model_file, "--text", text, "--json", "--device", "cpu")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"text", "arch", "layers"}
    assert doc["text"] == text and doc["arch"] == "lstm"
    assert len(doc["layers"]) == 1
    layer = doc["layers"][0]
    assert set(layer) == {"i", "f", "g", "o", "c", "h"}
    for key, rows in layer.items():
        assert len(rows) == len(text) and all(len(row) == 16 for row in rows), key
    loaded = load_charrnn(tiny_model_file)
    trace = trace_gates(loaded.model, [loaded.vocab.index(c) for c in text])
    for key, rows in layer.items():  # to the 4 significant digits written (none finer than 1e-6)
        np.testing.assert_allclose(np.array(rows), trace.layers[0][key], rtol=5e-4, atol=5e-7)


@pytest.mark.parametrize("arch, keys", [("gru", {"r", "z", "n", "h"}), ("rnn", {"h"})])
def test_gates_json_keys_per_arch(arch, keys, tmp_path, capsys):
    vocab = list(" abc")
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(vocab_size=len(vocab), arch=arch, layers=2, hidden=5, embed=0))
    path = tmp_path / f"{arch}.safetensors"
    save_charrnn(path, model, vocab, {"steps": 0, "corpus": "none", "metrics": {}})
    code, out, err = call_main(capsys, "gates", "--model", path, "--text", "abc a", "--json", "--device", "cpu")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["arch"] == arch and len(doc["layers"]) == 2
    for layer in doc["layers"]:
        assert set(layer) == keys
        for rows in layer.values():
            assert np.array(rows).shape == (5, 5)


def test_gates_summary_without_json(tiny_model_file, capsys):
    code, out, err = call_main(capsys, "gates", "--model", tiny_model_file, "--text", "the cat", "--device", "cpu")
    assert code == 0, err
    assert "layer 0 f" in out


def test_gates_unknown_characters_are_named(tiny_model_file, capsys):
    code, out, err = call_main(capsys, "gates", "--model", tiny_model_file, "--text", "the QAT", "--json",
                               "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err, "'Q'", "'A'", "'T'")


def test_gates_empty_text(tiny_model_file, capsys):
    code, out, err = call_main(capsys, "gates", "--model", tiny_model_file, "--text", "", "--json")
    assert code == 2 and out == ""
    assert_one_line_error(err, "empty")


def test_gates_model_that_is_not_a_charrnn(tmp_path, capsys):
    bogus = tmp_path / "notes.safetensors"
    bogus.write_text("these are my notes, not a model", encoding="utf-8")
    code, out, err = call_main(capsys, "gates", "--model", bogus, "--text", "abc", "--json", "--device", "cpu")
    assert code == 2 and out == ""
    assert_one_line_error(err)
