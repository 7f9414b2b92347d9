#!/usr/bin/env python3
"""Token-id goldens for the real Qwen3 and Llama 3 tokenizers of ../shared/fixtures/tokenizers, computed
with Hugging Face tokenizers on the exact strings the chat-template fixtures expect (and a few more).

Rerun from the project root:  python3 tools/make_tokenizer_goldens.py > testdata/tokenizer_goldens.json
"""
import json
import sys

import tokenizers
from tokenizers import Tokenizer

FIX = "../shared/fixtures"
PAIRS = {"qwen3": ["qwen3", "qwen2.5-instruct"], "llama3": ["llama-3-instruct-original", "llama-3.1-instruct"]}
EXTRA = ["Héllo wörld — naïve café 日本語 🙂", "  leading spaces\n\n\ttabs and\r\nnewlines  ", "12345 + 678 = 7023?!"]

out = {"tokenizers": tokenizers.__version__, "cases": {}}
for tok_name, templates in PAIRS.items():
    tok = Tokenizer.from_file(f"{FIX}/tokenizers/{tok_name}/tokenizer.json")
    texts = []
    for t in templates:
        for case in json.load(open(f"{FIX}/chat_templates/{t}.json"))["cases"]:
            if case["expected"] is not None:
                texts.append(case["expected"])
    texts += EXTRA
    out["cases"][tok_name] = [{"text": s, "ids": tok.encode(s, add_special_tokens=False).ids} for s in dict.fromkeys(texts)]
json.dump(out, sys.stdout, ensure_ascii=False, indent=0)
