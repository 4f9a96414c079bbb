import json

import numpy as np

from simulator import ModelConfig, Transformer, save
from simulator.cli import steps_from_json, trace_main


def test_trace_json_round_trips_to_the_cores_numbers(tmp_path):
    out = tmp_path / "trace.json"
    assert trace_main(["the cat sat on the mat", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    arrays = steps_from_json(data)
    trace = Transformer().run("the cat sat on the mat")
    assert list(arrays) == trace.names
    for name, value in arrays.items():
        assert np.array_equal(value, trace[name]), name
    assert data["steps"][7]["formula"] == trace.steps[7].formula


def test_trace_of_a_saved_encoder_decoder_model(tmp_path, capsys):
    model = Transformer(ModelConfig(arch="encoder-decoder"), seed=4)
    path = tmp_path / "m.npz"
    save(path, model, model.tokens(("the cat", "a dog")))
    assert trace_main(["the big cat => a dog", "--model", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "decoder.blocks.0.cross_attn.hook_pattern" in printed
    assert f"[{len(model.graph.nodes)}/{len(model.graph.nodes)}] probs" in printed


def test_errors_are_one_line_and_non_zero(tmp_path, capsys):
    assert trace_main(["the cat", "--model", str(tmp_path / "none.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stepformer trace:") and "does not exist" in err and "\n" not in err
    long = " ".join(["cat"] * 20)
    assert trace_main([long]) == 2
    assert "n_ctx = 8" in capsys.readouterr().err
