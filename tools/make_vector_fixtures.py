#!/usr/bin/env python3
"""Vector-format fixtures written by the real tools, and a check that files Persona wrote load in them.
Python makes fixtures only; Persona and CI never run it.

Rerun (from the project root, offline, with this machine's local pip index):
    python3 -m pip install --user torch gguf numpy
    python3 tools/make_vector_fixtures.py write testdata/vectors
    python3 tools/make_vector_fixtures.py check testdata/vectors

`write` makes, for a model with 4 layers and d_model 8 (rows 0..4 as Hugging Face hidden_states):
  reference.pt       torch.save of a float32 [5, 8] tensor, as the Persona Vectors reference saves its vectors
  reference-bf16.pt  the same tensor in bfloat16 (a model run in bf16 without .float())
  reference-dict.pt  torch.save of {"response_avg": [5, 8], "prompt_last": [5, 8]}
  llamacpp.gguf      a control vector as llama.cpp's cvector-generator writes it: general.architecture
                     controlvector, controlvector.model_hint "llama", controlvector.layer_count int32,
                     tensors direction.1 .. direction.3 (direction.N is added to the output of block N)
  repeng.gguf        a control vector as repeng's ControlVector.export_gguf writes it (layer_count uint32,
                     model_hint = transformers model_type, layers 3, 2, 1 in that order)
  ibm.svec           IBM activation-steering's SteeringVector.save JSON (directions by block index)
  expected.json      the float values of each, for Persona's readers to compare against

`check` loads every file under testdata/vectors/from-persona/ (written by `persona vector convert`, kept
current by VectorFormatsTest) with torch.load(weights_only=True), gguf.GGUFReader and json, and compares
them with testdata/vectors/from-persona/expected.json.
"""
import json
import os
import sys

import gguf
import numpy as np
import torch

ROWS, D = 5, 8


def table():
    g = torch.Generator().manual_seed(3)
    return torch.randn(ROWS, D, generator=g)


def write(out):
    os.makedirs(out, exist_ok=True)
    t = table()
    torch.save(t, os.path.join(out, "reference.pt"))
    torch.save(t.to(torch.bfloat16), os.path.join(out, "reference-bf16.pt"))
    torch.save({"response_avg": t, "prompt_last": -2 * t}, os.path.join(out, "reference-dict.pt"))

    # llama.cpp cvector-generator layout: one direction per block output 1 .. n_layer - 1
    w = gguf.GGUFWriter(os.path.join(out, "llamacpp.gguf"), "controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_int32("controlvector.layer_count", ROWS - 2)
    for n in range(1, ROWS - 1):
        w.add_tensor(f"direction.{n}", t[n + 1].numpy().astype(np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    # repeng's export_gguf: its layer ids are block indices (hidden_states[i + 1]), default range(-1, -L, -1)
    w = gguf.GGUFWriter(os.path.join(out, "repeng.gguf"), "controlvector")
    directions = {layer: (t[layer + 1] / t[layer + 1].norm()).numpy().astype(np.float32) for layer in (3, 2, 1)}
    w.add_string("controlvector.model_hint", "llama")
    w.add_uint32("controlvector.layer_count", len(directions))
    for layer, v in directions.items():
        w.add_tensor(f"direction.{layer}", v)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    # IBM activation-steering .svec: block index -> direction list, explained variance per block
    svec = {"model_type": "llama", "directions": {str(i): t[i + 1].tolist() for i in range(ROWS - 1)},
            "explained_variances": {str(i): 0.5 + 0.1 * i for i in range(ROWS - 1)}}
    with open(os.path.join(out, "ibm.svec"), "w") as f:
        json.dump(svec, f)

    expected = {"rows": t.tolist(), "rows_bf16": t.to(torch.bfloat16).float().tolist(),
                "repeng": {str(k): v.tolist() for k, v in directions.items()}, "torch": torch.__version__}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote fixtures to", out)


def close(a, b, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or np.abs(a - b).max() > 1e-6:
        raise SystemExit(f"{what}: {a.shape} vs {b.shape}, max diff {np.abs(a - b).max() if a.shape == b.shape else 'n/a'}")
    print(f"ok  {what} {list(a.shape)}")


def check(out):
    d = os.path.join(out, "from-persona")
    expected = json.load(open(os.path.join(d, "expected.json")))
    rows = np.array(expected["rows"], dtype=np.float32)
    t = torch.load(os.path.join(d, "vector.pt"), weights_only=True)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32, type(t)
    close(t.numpy(), rows, "vector.pt (torch.load)")
    for name, first in (("vector.gguf", 2), ("vector-repeng.gguf", 1)):
        r = gguf.GGUFReader(os.path.join(d, name))
        arch = bytes(r.get_field("general.architecture").parts[-1]).decode()
        assert arch == "controlvector", arch
        assert r.get_field("controlvector.model_hint") is not None
        got = {int(x.name.split(".")[1]): np.array(x.data) for x in r.tensors}
        assert sorted(got) == list(range(first - 1, len(rows) - 1)), sorted(got)
        for n, v in got.items():
            close(v, rows[n + 1], f"{name} direction.{n} (gguf.GGUFReader)")
    svec = json.load(open(os.path.join(d, "vector.svec")))
    for k, v in svec["directions"].items():
        close(v, rows[int(k) + 1], f"vector.svec layer {k} (json)")
    print("all files Persona wrote load in torch, gguf and json with the expected values")


if __name__ == "__main__":
    mode, target = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else ("write", "testdata/vectors")
    {"write": write, "check": check}[mode](target)
