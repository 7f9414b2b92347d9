#!/usr/bin/env python3
"""Attaches random PEFT LoRA adapters to tiny transformers models of testdata/families and writes the
adapter (adapter_config.json + adapter_model.safetensors, exactly as PEFT saves it) with golden logits
of the adapted model, so Persona's adapter merge (W + B A * scale) can be checked against PEFT itself.
Python makes goldens only; Persona and CI never run it.

Rerun (from the project root, offline, with this machine's local pip index; needs the family models
that tools/make_family_goldens.py writes):
    python3 -m pip install --user transformers torch safetensors peft
    python3 tools/make_lora_goldens.py testdata/lora

Adapters (each covers a feature of PEFT's LoRA format):
  llama3-untied-lora  all linear layers, r=4, alpha=8; rank_pattern (o_proj r=2), alpha_pattern (down_proj 3)
  qwen2-rslora        q_proj and v_proj only, r=8, alpha=16, use_rslora (scale alpha/sqrt(r)),
                      layers_to_transform [0, 2]
  gpt2-lora           c_attn, c_proj, c_fc in GPT-2's Conv1D layout (fan_in_fan_out=True)

Each testdata/lora/<name>/ gets goldens.json:
{"peft": version, "base": path, "sequences": [{"input_ids": [...], "logits": [[...]]}]}
with the logits of the unmerged PeftModel (merge_and_unload is checked to agree to 1e-5).
"""
import json
import os
import sys

import peft
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

ADAPTERS = [
    ("llama3-untied-lora", "testdata/families/llama3-untied", dict(
        r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        rank_pattern={"o_proj": 2}, alpha_pattern={"down_proj": 3})),
    ("qwen2-rslora", "testdata/families/qwen2", dict(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], use_rslora=True, layers_to_transform=[0, 2])),
    ("gpt2-lora", "testdata/families/gpt2", dict(
        r=4, lora_alpha=6, target_modules=["c_attn", "c_proj", "c_fc"], fan_in_fan_out=True)),
]


def sequences(vocab):
    g = torch.Generator().manual_seed(11)
    return [[1] + torch.randint(3, vocab, (n - 1,), generator=g).tolist() for n in (1, 7, 19)]


def main(out_dir):
    for index, (name, base, options) in enumerate(ADAPTERS):
        torch.manual_seed(2000 + index)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
        # init_lora_weights=False draws B at random too (PEFT's default B = 0 would make the adapter a no-op)
        adapted = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", lora_dropout=0.0, init_lora_weights=False, **options)).eval()
        d = os.path.join(out_dir, name)
        adapted.save_pretrained(d, safe_serialization=True)
        os.remove(os.path.join(d, "README.md"))  # PEFT's empty model-card template
        seqs = []
        for ids in sequences(model.config.vocab_size):
            with torch.no_grad():
                logits = adapted(torch.tensor([ids])).logits[0]
            seqs.append({"input_ids": ids, "logits": [[round(float(x), 7) for x in row] for row in logits]})
        merged = adapted.merge_and_unload().eval()
        for s in seqs:
            with torch.no_grad():
                m = merged(torch.tensor([s["input_ids"]])).logits[0]
            diff = (m - torch.tensor(s["logits"])).abs().max().item()
            assert diff < 1e-5, f"{name}: merge_and_unload differs from the adapted model by {diff}"
        with open(os.path.join(d, "goldens.json"), "w") as f:
            json.dump({"peft": peft.__version__, "torch": torch.__version__, "base": base, "sequences": seqs}, f)
        print(name, "->", d)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "testdata/lora")
