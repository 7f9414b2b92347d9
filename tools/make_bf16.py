#!/usr/bin/env python3
"""BF16 compute for Persona: the TorchScript kernels it loads and the goldens that check them.

DJL 0.36's PyTorch JNI has no code for torch.bfloat16 (creating or casting to one aborts the JVM),
so Persona reaches BF16 through a small TorchScript module whose methods do the casts and the
BF16 products; the arrays they return are ordinary libtorch tensors that DJL passes by handle.
Python makes the module once; Persona and CI never run Python.

Rerun (from the project root, offline, with this machine's local pip index):
    python3 -m pip install --user transformers torch safetensors
    python3 tools/make_bf16.py kernels model/src/main/resources/dev/persona/model/bf16_kernels.pt
    python3 tools/make_bf16.py goldens testdata/families

Semantics (docs/DESIGN.md, "BF16 compute"): 2-D weights (embeddings, output head, every linear
weight) are held in BF16; a linear layer rounds its input to BF16, multiplies with float32
accumulation and rounds its output to BF16, as torch's BF16 linear does; biases, norms, rotary
tables, attention scores, softmax and the residual stream stay float32, so hooks see float32.

`goldens` writes testdata/families/<family>/goldens_bf16.json: logits and hidden states of the same
id sequences as goldens.json from transformers in float32 with exactly those roundings patched in, plus the
logits of transformers' own all-BF16 run (torch_dtype=bfloat16) for comparison.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
import transformers
from transformers import AutoModelForCausalLM
from transformers.pytorch_utils import Conv1D

# Up to this many rows (batch x positions) the product runs in libtorch's BF16 kernel; above it, the
# BF16 operands are widened to float32 and multiplied there. Both round the output to BF16, so they
# differ only in summation order. On this AVX2 machine (no BF16 instructions) the BF16 kernel is
# 1.9x faster than float32 for one row and 6x slower for 512 (measured in docs/BENCHMARKS.md).
FEW_ROWS = 4


class Bf16Kernels(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Widens any tensor to float32."""
        return x.float()

    @torch.jit.export
    def narrow(self, x: torch.Tensor) -> torch.Tensor:
        """Rounds a tensor to BF16 (round to nearest even)."""
        return x.to(torch.bfloat16)

    @torch.jit.export
    def linear(self, x: torch.Tensor, w: torch.Tensor, few_rows: int, chunk: int) -> torch.Tensor:
        """x [..., in] float32, w [out, in] BF16 -> float32 [..., out] holding BF16 values.

        Widened products take w in blocks of `chunk` output rows, so the float32 copy of a large
        output head is never whole in memory."""
        xb = x.to(torch.bfloat16)
        rows = x.numel() // x.size(-1)
        if rows <= few_rows:
            y = F.linear(xb, w)
        else:
            xf = xb.float()
            parts = [F.linear(xf, block.float()).to(torch.bfloat16) for block in torch.split(w, chunk, 0)]
            y = parts[0] if len(parts) == 1 else torch.cat(parts, -1)
        return y.float()

    @torch.jit.export
    def widened_product(self, x: torch.Tensor, w: torch.Tensor, chunk: int) -> torch.Tensor:
        """x [..., in] float32 holding BF16 values, w [out, in] BF16 -> float32 [..., out], not rounded.

        One column panel's share of a panelled weight's product (Persona sums the panels' products
        in float32 and rounds the sum once, as `linear` rounds its one product); w is widened in
        blocks of `chunk` output rows, as in `linear`."""
        parts = [F.linear(x, block.float()) for block in torch.split(w, chunk, 0)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, -1)

    @torch.jit.export
    def embedding(self, ids: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Rows of a BF16 table, widened to float32."""
        return F.embedding(ids, w).float()


def kernels(out):
    os.makedirs(os.path.dirname(out), exist_ok=True)
    torch.jit.script(Bf16Kernels()).save(out)
    print("kernels ->", out)


def bf16(t):
    return t.to(torch.bfloat16).float()


def patch_bf16_linears(model):
    """Turns a float32 model into Persona's BF16 compute: 2-D weights rounded, linear in/out rounded."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Embedding, Conv1D)):
                m.weight.copy_(bf16(m.weight))
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            def fwd(x, m=m):
                y = bf16(F.linear(bf16(x), m.weight))
                return y if m.bias is None else y + m.bias
            m.forward = fwd
        elif isinstance(m, Conv1D):
            def fwd(x, m=m):
                y = bf16(bf16(x) @ m.weight)
                return y + m.bias
            m.forward = fwd
    return model


def goldens(families_dir):
    for name in sorted(os.listdir(families_dir)):
        d = os.path.join(families_dir, name)
        if not os.path.isfile(os.path.join(d, "goldens.json")):
            continue
        with open(os.path.join(d, "goldens.json")) as f:
            seqs = [s["input_ids"] for s in json.load(f)["sequences"]]
        eager = dict(attn_implementation="eager")
        ref = patch_bf16_linears(load(d, torch.float32, eager)).eval()
        native = load(d, torch.bfloat16, eager).eval()
        out = []
        for ids in seqs:
            with torch.no_grad():
                r = ref(torch.tensor([ids]), output_hidden_states=True)
                logits = r.logits[0]
                all_bf16 = native(torch.tensor([ids])).logits[0].float()
            out.append({"input_ids": ids,
                        "logits": [[round(float(x), 7) for x in row] for row in logits],
                        "hidden_states": [[[round(float(x), 7) for x in row] for row in h[0]] for h in r.hidden_states],
                        "transformers_bf16_logits": [[round(float(x), 7) for x in row] for row in all_bf16]})
        with open(os.path.join(d, "goldens_bf16.json"), "w") as f:
            json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "family": name,
                       "few_rows": FEW_ROWS, "sequences": out}, f)
        print(name, "->", os.path.join(d, "goldens_bf16.json"))


def load(d, dtype, extra):
    config = transformers.AutoConfig.from_pretrained(d)
    if config.model_type == "gemma3":
        from transformers import Gemma3ForConditionalGeneration
        return Gemma3ForConditionalGeneration.from_pretrained(d, dtype=dtype, **extra)
    return AutoModelForCausalLM.from_pretrained(d, dtype=dtype, **extra)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("kernels", "goldens"):
        sys.exit("usage: make_bf16.py kernels OUT.pt | goldens FAMILIES_DIR")
    kernels(sys.argv[2]) if sys.argv[1] == "kernels" else goldens(sys.argv[2])
