#!/usr/bin/env python3
"""Builds a tiny random model of every supported family with Hugging Face transformers and writes
golden logits and hidden states, so Persona's Java forward pass can be checked against transformers
itself. Python is a tool for making goldens only; Persona and CI never run it.

Rerun (from the project root, offline, with this machine's local pip index):
    python3 -m pip install --user transformers torch safetensors
    python3 tools/make_family_goldens.py testdata/families

Three storage variants are written too: qwen2 in BF16, llama-tied-bias in F16 (goldens computed in
float32 from the rounded weights) and mistral sharded into several safetensors files with an index.

Each family gets testdata/families/<name>/ with config.json, model.safetensors and goldens.json:
{"transformers": version, "sequences": [{"input_ids": [...], "logits": [[...]], "hidden_states": [[[...]]]}]}
hidden_states[l][p] is row l (0 = embeddings, L = final-norm output) at position p, as
output_hidden_states returns them.
"""
import json
import os
import sys

import torch
import transformers
from transformers import (Gemma2Config, Gemma2ForCausalLM, Gemma3Config, Gemma3ForCausalLM, Gemma3ForConditionalGeneration,
                          Gemma3TextConfig, GemmaConfig, GemmaForCausalLM,
                          GPT2Config, GPT2LMHeadModel,
                          LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)

VOCAB = 96


def families():
    common = dict(vocab_size=VOCAB, hidden_size=48, intermediate_size=80, num_hidden_layers=3,
                  num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=256,
                  rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2)
    yield "llama3-untied", LlamaForCausalLM, LlamaConfig(
        **common, tie_word_embeddings=False, rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
    yield "llama-tied-bias", LlamaForCausalLM, LlamaConfig(
        **common, tie_word_embeddings=True, attention_bias=True, mlp_bias=True, rope_theta=10000.0)
    yield "mistral", MistralForCausalLM, MistralConfig(**common, tie_word_embeddings=False, rope_theta=1e6,
                                                       sliding_window=None)
    yield "qwen2", Qwen2ForCausalLM, Qwen2Config(**common, tie_word_embeddings=True, rope_theta=1e6)
    q3 = dict(common)
    yield "qwen3", Qwen3ForCausalLM, Qwen3Config(**q3, head_dim=16, tie_word_embeddings=False, rope_theta=1e6)
    yield "gpt2", GPT2LMHeadModel, GPT2Config(vocab_size=VOCAB, n_embd=48, n_layer=3, n_head=6, n_positions=128,
                                               activation_function="gelu_new", bos_token_id=1, eos_token_id=2)
    # Gemma: zero-centred norm weights (x (1 + w)), embeddings scaled by sqrt(d), explicit head_dim
    gemma = dict(common, head_dim=16, pad_token_id=0, hidden_activation="gelu_pytorch_tanh")
    yield "gemma", GemmaForCausalLM, GemmaConfig(**gemma, rope_theta=10000.0)
    # Gemma 2: sandwich norms, query_pre_attn_scalar, small soft-caps and a 4-slot sliding window so
    # that each one changes these tiny models' outputs (sliding on layers 0 and 2)
    yield "gemma2", Gemma2ForCausalLM, Gemma2Config(**gemma, rope_theta=10000.0, query_pre_attn_scalar=24,
                                                    attn_logit_softcapping=2.0, final_logit_softcapping=3.0,
                                                    sliding_window=4)
    # Gemma 3 (text): q/k norms, a local rotary base on sliding layers and linear rope scaling on full ones
    yield "gemma3-text", Gemma3ForCausalLM, Gemma3TextConfig(
        **gemma, query_pre_attn_scalar=24, sliding_window=4,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                         "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}})
    # Gemma 3 4B and up ship as the multimodal wrapper: text_config inside, language_model.model.* weights,
    # a vision tower Persona leaves unread (image token ids sit above the ids the goldens use)
    yield "gemma3-multimodal", Gemma3ForConditionalGeneration, Gemma3Config(
        text_config=dict(gemma, vocab_size=VOCAB + 3, query_pre_attn_scalar=24, sliding_window=4,
                         layer_types=["sliding_attention", "full_attention", "sliding_attention"],
                         rope_parameters={"full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                                          "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=28, patch_size=14),
        mm_tokens_per_image=4, boi_token_index=VOCAB, eoi_token_index=VOCAB + 1, image_token_index=VOCAB + 2)


def sequences():
    g = torch.Generator().manual_seed(7)
    return [[1] + torch.randint(3, VOCAB, (n - 1,), generator=g).tolist() for n in (1, 9, 23)]


# Storage variants: (family to copy, variant name, dtype, max_shard_size). Goldens of a reduced-precision
# copy are computed in float32 from the rounded weights, so a loader that widens them exactly matches.
VARIANTS = [("qwen2", "qwen2-bf16", torch.bfloat16, None), ("llama-tied-bias", "llama-f16", torch.float16, None),
            ("mistral", "mistral-sharded", torch.float32, "150KB")]


def main(out_dir):
    torch.manual_seed(0)
    made = {}
    for index, (name, cls, config) in enumerate(families()):
        torch.manual_seed(1000 + index)
        if name in ("gemma2", "gemma3-text"):
            # the eager path is Gemma 2's reference: transformers' sdpa path drops attn_logit_softcapping
            # (measured here: 1.4e-3 apart with a cap of 2)
            config._attn_implementation = "eager"
        model = cls(config).eval()
        # random init leaves norms at 1 and biases at 0: perturb every parameter so each feature matters
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        made[name] = model
        write(model, os.path.join(out_dir, name), name)
    for base, name, dtype, shard in VARIANTS:
        model = made[base]
        d = os.path.join(out_dir, name)
        stored = model.to(dtype)
        if shard:
            stored.save_pretrained(d, safe_serialization=True, max_shard_size=shard)
        else:
            stored.save_pretrained(d, safe_serialization=True)
        # reload as a user would (float32 compute); this also recomputes rotary buffers in float32
        model = type(stored).from_pretrained(d, dtype=torch.float32).eval()
        write(model, d, name, save=False)


def write(model, d, name, save=True):
    if save:
        model.save_pretrained(d, safe_serialization=True)
    seqs = []
    for ids in sequences():
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_hidden_states=True)
        seqs.append({
            "input_ids": ids,
            "logits": [[round(float(x), 7) for x in row] for row in out.logits[0]],
            "hidden_states": [[[round(float(x), 7) for x in row] for row in h[0]] for h in out.hidden_states],
        })
    with open(os.path.join(d, "goldens.json"), "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                   "family": name, "sequences": seqs}, f)
    print(name, "->", d)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "testdata/families")
