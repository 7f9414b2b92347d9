#!/usr/bin/env python3
"""Goldens for Persona's training step and statistics, from the reference implementations.

Training (testdata/training/<family>.json + <family>-step2.safetensors, <family>-steered-step2.safetensors):
two optimizer steps of a tiny model of testdata/families with torch: the masked cross-entropy on the
scored (assistant) tokens, global-norm gradient clipping (clip_grad_norm_, max norm 1.0),
torch.optim.AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0.1) with Persona's warmup-then-cosine
learning rate set per step; the loss and pre-clip gradient norm of each step and the updated weights.
The same again with preventative steering: a forward hook adds coef * v to decoder layer (l - 1)'s
output at every position during the training passes (Persona's steering at layer l).

Statistics (testdata/stats_goldens.json): scipy.stats.pearsonr with its Fisher confidence interval
and sklearn.metrics.roc_auc_score on samples with ties.

Rerun (from the project root, offline, with this machine's local pip index):
    python3 -m pip install --user torch transformers safetensors scipy scikit-learn
    python3 tools/make_training_goldens.py
Python makes goldens only; Persona and CI never run it.
"""
import json
import math
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = ["llama3-untied", "qwen2"]
BATCH = [[1, 5, 9, 13, 17, 21, 25, 29], [1, 40, 41, 42, 43], [1, 7, 7, 7, 7, 7, 7]]
LR, WD, CLIP, WARMUP, TOTAL = 3e-4, 0.1, 1.0, 2, 4
STEER_LAYER, STEER_COEF, STEER_SEED = 2, 3.0, 11


def masks(batch):
    # position i is scored (its token is a target) from the third token on, as TrainerTest.masks
    return [[i >= 2 for i in range(len(s))] for s in batch]


def rate(n):
    """Persona's Trainer.rate: linear warmup, then cosine decay to 10% of the peak at TOTAL (update n runs at rate(n + 1))."""
    if n < WARMUP:
        return LR * (n + 1) / WARMUP
    progress = min(1.0, (n - WARMUP) / max(1, TOTAL - WARMUP))
    return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def left_padded(batch):
    t = max(len(s) for s in batch)
    ids, att, pos = [], [], []
    for s in batch:
        pad = t - len(s)
        ids.append([0] * pad + s)
        att.append([0] * pad + [1] * len(s))
        pos.append([0] * pad + list(range(len(s))))
    return torch.tensor(ids), torch.tensor(att), torch.tensor(pos), t


def loss_of(model, batch, score):
    ids, att, pos, t = left_padded(batch)
    logits = model(input_ids=ids, attention_mask=att, position_ids=pos).logits
    logp = torch.log_softmax(logits.float(), dim=-1)
    total, n = 0.0, 0
    for i, s in enumerate(batch):
        pad = t - len(s)
        for k in range(len(s) - 1):
            if score[i][k + 1]:  # position pad+k predicts token k+1
                total = total - logp[i, pad + k, s[k + 1]]
                n += 1
    return total / n


def decoder_layers(model):
    return model.model.layers if hasattr(model, "model") else model.transformer.h


def train(family, vector=None):
    model = AutoModelForCausalLM.from_pretrained(os.path.join(ROOT, "testdata/families", family), torch_dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()  # no dropout (GPT-2 configs carry 0.1): Persona trains without it
    handle = None
    if vector is not None:
        v = torch.tensor(vector)

        def add(module, inputs, output):
            if isinstance(output, tuple):
                return (output[0] + STEER_COEF * v,) + tuple(output[1:])
            return output + STEER_COEF * v
        handle = decoder_layers(model)[STEER_LAYER - 1].register_forward_hook(add)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD, foreach=False)
    steps = []
    for n in range(2):
        for g in opt.param_groups:
            g["lr"] = rate(n + 1)  # Persona's update n runs at rate(n + 1) (Trainer.step)
        opt.zero_grad()
        loss = loss_of(model, BATCH, masks(BATCH))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        steps.append({"loss": loss.item(), "grad_norm": norm.item()})
    if handle is not None:
        handle.remove()
    # tied weights (GPT-2's lm_head is wte) are stored once, under the name the checkpoint uses
    weights, seen = {}, set()
    for k, t in model.state_dict().items():
        if t.data_ptr() in seen:
            continue
        seen.add(t.data_ptr())
        weights[k] = t.detach().clone().contiguous()
    return steps, weights


def stats():
    from scipy.stats import pearsonr
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(7)
    cases = []
    for n, tie_scale in [(8, 0), (30, 0), (30, 2), (200, 4)]:
        x = rng.normal(size=n)
        y = 0.6 * x + rng.normal(size=n)
        if tie_scale:
            x = np.round(x * tie_scale) / tie_scale
            y = np.round(y * tie_scale) / tie_scale
        r = pearsonr(x, y)
        ci = r.confidence_interval(0.95)
        pos = y[: n // 2]
        neg = y[n // 2:] - 0.3
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        auc = roc_auc_score(labels, np.r_[pos, neg])
        cases.append({"x": x.tolist(), "y": y.tolist(), "pearson_r": float(r.statistic), "ci95_low": float(ci.low),
                      "ci95_high": float(ci.high), "positives": pos.tolist(), "negatives": neg.tolist(), "auroc": float(auc)})
    return cases


def main():
    out = os.path.join(ROOT, "testdata/training")
    os.makedirs(out, exist_ok=True)
    for family in FAMILIES:
        steps, weights = train(family)
        d = AutoModelForCausalLM.from_pretrained(os.path.join(ROOT, "testdata/families", family)).config.hidden_size
        vector = np.random.default_rng(STEER_SEED).normal(size=d).astype(np.float32)
        vector = (vector / np.linalg.norm(vector)).tolist()
        steered_steps, steered = train(family, vector)
        save_file(weights, os.path.join(out, family + "-step2.safetensors"))
        save_file(steered, os.path.join(out, family + "-steered-step2.safetensors"))
        with open(os.path.join(out, family + ".json"), "w") as f:
            json.dump({"torch": torch.__version__, "batch": BATCH, "scored_from": 2, "lr": LR, "weight_decay": WD, "clip": CLIP,
                       "warmup": WARMUP, "total": TOTAL, "steps": steps,
                       "steered": {"layer": STEER_LAYER, "coef": STEER_COEF, "vector": vector, "steps": steered_steps}}, f, indent=1)
        print(family, steps, steered_steps)
    with open(os.path.join(ROOT, "testdata/stats_goldens.json"), "w") as f:
        json.dump({"cases": stats()}, f)


if __name__ == "__main__":
    sys.exit(main())
