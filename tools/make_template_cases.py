#!/usr/bin/env python3
"""Persona's own chat-template test cases for the Jinja constructs real templates use beyond the
fixture: call arguments unpacked with *args / **kwargs, {% call %} blocks with caller(), {% filter %}
blocks, and syntax errors whose line the error must name. Each template is rendered by transformers'
own chat-template environment (the one apply_chat_template uses); the expected text or error line
goes to testdata/templates/cases.json. The templates are written here for the test, not copied from
any model.

Rerun (from the project root, offline, with this machine's local pip index):
    python3 -m pip install --user transformers jinja2
    python3 tools/make_template_cases.py
"""
import datetime
import json
import os

import jinja2
import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi, who are you?"},
            {"role": "assistant", "content": "A model."}, {"role": "user", "content": "And you <3?"}]
TOOLS = [{"type": "function", "function": {"name": "get_time", "description": "Current time", "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}]

CASES = {
    "star-args": """{%- macro turn(role, content, end='\\n') -%}<{{ role }}>{{ content }}{{ end }}{%- endmacro -%}
{%- set pairs = [] -%}
{%- for m in messages -%}{%- set pairs = pairs + [[m.role, m.content]] -%}{%- endfor -%}
{%- for i in range(pairs | length) -%}{{ turn(*pairs[i]) }}{%- endfor -%}
{%- if add_generation_prompt -%}{{ turn('assistant', '', end='') }}{%- endif -%}""",
    "star-args-mixed": """{%- macro line(a, b, c='-', d='.') -%}{{ a }}|{{ b }}|{{ c }}|{{ d }}
{% endmacro -%}
{{ line(*['x', 'y']) }}{{ line('x', *['y', 'z']) }}{{ line(*['x'], **{'b': 'B', 'd': '!'}) }}{{ line(**{'a': 1, 'b': 2}) }}
{%- for m in messages %}{{ line(m.role, m.content, **{'d': ';'}) }}{% endfor %}""",
    "kwargs-dict-built": """{%- set opts = {'end': '</s>'} -%}
{%- macro wrap(text, start='<s>', end='') -%}{{ start }}{{ text }}{{ end }}{%- endmacro -%}
{%- for m in messages -%}{{ wrap(m.content | trim, **opts) }}{%- endfor -%}""",
    "call-block": """{%- macro box(title) -%}[{{ title }}]{{ caller() }}[/{{ title }}]
{% endmacro -%}
{%- for m in messages -%}
{%- call box(m.role) -%}{{ m.content }}{%- endcall -%}
{%- endfor -%}
{%- if add_generation_prompt %}[assistant]{% endif -%}""",
    "call-block-with-args": """{%- macro each(items, sep=', ') -%}{%- for it in items -%}{{ caller(it, loop.index) }}{% if not loop.last %}{{ sep }}{% endif %}{%- endfor -%}{%- endmacro -%}
{%- call(m, n) each(messages, sep=' / ') -%}{{ n }}:{{ m.role }}={{ m.content | length }}{%- endcall %}
{% call(t, n) each(tools or []) %}tool {{ n }} {{ t.function.name }}{% endcall %}""",
    "filter-block": """{%- filter upper -%}
{%- for m in messages -%}{{ m.role }}: {{ m.content }}
{% endfor -%}
{%- endfilter -%}
{%- filter replace('ASSISTANT', 'Bot') | trim -%}
   {{ 'assistant' | upper }} ready   
{%- endfilter %}""",
    "filter-block-nested": """{%- for m in messages -%}
{%- filter indent(2, true) -%}
{{ m.role }}
{{- '\\n' -}}
{% filter upper %}{{ m.content }}{% endfilter %}
{% endfilter %}
{% endfor -%}""",
    "tools-and-date": """{%- if tools %}Tools: {{ tools | map(attribute='function') | map(attribute='name') | join(', ') }}
{% endif -%}
Today: {{ strftime_now('%d %b %Y') }}
{%- for m in messages %}
{{ m.role }}> {{ m.content }}{% endfor %}
{%- if extra is defined %}
extra={{ extra | tojson }}{% endif %}""",
}

ERRORS = {
    # (template, the line where the mistake is, by eye; the golden records what jinja2 reports)
    "error-after-stripped-lines": ("{%- for m in messages -%}\n\n\n{{ m.role }}\n\n{%- endfor -%}\n\n{{ messages[0].content }\n", 7),
    "error-unknown-tag-deep": ("{% if true %}\n  a\n  b\n{%- if false -%}\n  c\n{% endif %}\n{% frobnicate %}\n{% endif %}", 7),
    "error-unclosed-block": ("{% for m in messages %}\n{{ m.role }}\n{% if m.content %}\nx\n{% endfor %}", 5),
}


def main():
    out = []
    for name, template in CASES.items():
        compiled = _compile_jinja_template(template)
        for gen in (False, True):
            ctx = {"messages": MESSAGES, "add_generation_prompt": gen, "tools": TOOLS if gen else None, "bos_token": "<s>", "eos_token": "</s>"}
            if name == "tools-and-date" and gen:
                ctx["extra"] = {"n": [1, 2.5, None], "ok": True}
            # strftime_now is pinned (a context variable overrides transformers' global), as the Java test pins its clock
            pinned = dict(ctx, strftime_now=lambda fmt: datetime.datetime(2026, 11, 29, 9, 30).strftime(fmt))
            try:
                rendered = compiled.render(**pinned)
            except Exception as e:  # a case must render in transformers; fail loudly otherwise
                raise SystemExit(f"{name}: transformers refused it: {e}")
            out.append({"name": name, "template": template, "context": ctx, "expected": rendered})
    for name, (template, line) in ERRORS.items():
        try:
            _compile_jinja_template(template).render(messages=MESSAGES)
            raise SystemExit(f"{name}: expected a syntax error")
        except jinja2.TemplateSyntaxError as e:
            out.append({"name": name, "template": template, "error_line": e.lineno, "jinja2_message": e.message})
    path = os.path.join(ROOT, "testdata/templates/cases.json")
    with open(path, "w") as f:
        json.dump({"transformers": transformers.__version__, "jinja2": jinja2.__version__, "strftime_now": "2026-11-29T09:30",
                   "cases": out}, f, indent=1, ensure_ascii=False)
    print(len(out), "cases written to", path)


if __name__ == "__main__":
    main()
