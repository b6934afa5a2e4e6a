"""qopt's chat templates (runtime/chat/, through `qopt chat-template`)
against python3-jinja2 rendering the same templates the way Hugging Face's
apply_chat_template does (ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks and loop controls; raise_exception; tojson as json.dumps with
ensure_ascii=False), byte for byte:
  - the real templates of Llama-3.1, Qwen2.5 and Mistral-Nemo
    (shared/hf/chat-templates/) and Phi-3-mini's tokenizer_config.json, on
    conversations with system, user and assistant turns, with and without
    the generation prompt;
  - small templates that reach each filter, test, operator, statement and
    whitespace rule of the subset;
  - errors: what jinja2 refuses, qopt refuses; constructs outside the
    subset are named.

  QOPT=build/bin/qopt QOPT_SHARED=../shared /usr/bin/python3 python/tests/test_chat_templates.py
"""
import glob
import json
import os
import subprocess
import tempfile
import unittest

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
QOPT = os.environ.get("QOPT", "build/bin/qopt")
SHARED = os.environ.get("QOPT_SHARED", os.path.join(ROOT, "..", "shared"))
HF = os.path.join(SHARED, "hf")
LLAMA2_JSON = os.path.join(HF, "llama2", "tokenizer.json")  # bos "<s>", eos "</s>"
PHI3_DIR = os.path.join(HF, "phi-3-mini")


def hf_render(template, messages, add_generation_prompt, bos, eos):
    """transformers' _compile_jinja_template + apply_chat_template."""
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, tools=None, documents=None,
        add_generation_prompt=add_generation_prompt, bos_token=bos, eos_token=eos)


CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}],
    [{"role": "system", "content": "  Be kind.\n"},
     {"role": "user", "content": "What is 2+2?"},
     {"role": "assistant", "content": "4"},
     {"role": "user", "content": "And 3+3? {{ not a tag }} {% raw %}"}],
    [{"role": "user", "content": "Ünïcödé 東京 🙂 \"quotes\" 'single' \\ back"},
     {"role": "assistant", "content": " padded  "},
     {"role": "user", "content": "\n\nnewlines\n"}],
    # roles that do not alternate: Mistral's template raises, the others render
    [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
]

# Each reaches a part of the subset; conversation CONVERSATIONS[2].
SMALL_TEMPLATES = [
    "{% for m in messages %}{{ loop.index }}/{{ loop.length }}:{{ m.role|upper }}="
    "{{ m['content']|trim|length }}{% if not loop.last %}, {% endif %}{% endfor %}",
    "{{ messages|map(attribute='role')|join('|') }} "
    "{{ messages|selectattr('role','equalto','user')|list|length }} "
    "{{ messages|rejectattr('role','eq','user')|map(attribute='content')|list }}",
    "{{ messages[0] }} {{ messages[-1].content[1:3] }} {{ messages[1:3]|tojson }} "
    "{{ messages[0]|tojson(indent=2) }} {{ messages[::-2]|length }} {{ 'héllo'[-2:] }}",
    "{% set ns = namespace(n=0, s='') %}{% for m in messages if m.role != 'system' %}"
    "{% set ns.n = ns.n + loop.index0 * 2 %}{% set ns.s = ns.s ~ m.role[0] %}{% endfor %}"
    "{{ ns.n }} {{ ns.s }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} "
    "{{ 1.5 * 2 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 3 - 5 }} {{ 1e-7 }} {{ 123456.0 }}",
    "{% for x in [1, 2, 3, 4, 5] %}{% if x == 2 %}{% continue %}{% endif %}"
    "{% if x > 4 %}{% break %}{% endif %}{{ x }}{% endfor %}|"
    "{% for k, v in {'a': 1, 'b': [true, none, 'x']}.items() %}{{ k }}={{ v }};{% endfor %}|"
    "{{ {'a': 1, 'b': 2}|items|list }}|{% for x in [] %}x{% else %}empty{% endfor %}",
    "  {% if true %}\n    yes\n  {% endif %}\n{%- if false %}no{% else %}\n   else\n"
    "{% endif %}\n{# comment #}\n  {#- c2 -#}  after\n{{ 'x' }}\n{%+ if true %}plus{% endif %}\n"
    "\t{% if true -%}\n  trimmed {{- ' tight ' -}} \n{%- endif %}\n",
    "{{ 'abc' if messages|length > 3 else 'def' }} {{ none is none }} "
    "{{ undefined_thing is defined }} {{ messages is iterable }} {{ 'x' is string }} "
    "{{ 3 is odd }} {{ 4 is divisibleby 2 }} {{ 'a' in 'cat' }} {{ 'q' not in ['a'] }} "
    "{{ 'role' in messages[0] }} {{ messages[0] is mapping }} {{ 1 is number }} "
    "{{ undefined_thing is none }} {{ not undefined_thing }} {{ messages[0].tool_calls is defined }}",
    "{{ ' Hello World '.strip().lower() }}|{{ 'a,b,,c'.split(',') }}|{{ 'x y  z'.split() }}|"
    "{{ 'abc'.startswith('ab') }}|{{ 'hello'.replace('l', 'L') }}|{{ 'hello world'|title }}|"
    "{{ 'hELLO'|capitalize }}|{{ missing|default('dflt') }}|{{ ''|default('e', true) }}|"
    "{{ '42'|int + 1 }}|{{ '2.5'|float }}|{{ [3,1,2]|first }}{{ [3,1,2]|last }}|"
    "{{ 'abc'|reverse }}|{{ range(3)|list }}|{{ (1, 2) }}|{{ (1,) }}|"
    "{{ [1,'a',none,true,1.0] }}|{{ {'k': 'v\\'s'} }}|{{ [1, 2]|reject('equalto', 1)|list }}|"
    "{{ {'b': 1, 'a': 2}|tojson }}|{{ 'x\\ty\"'|tojson }}|{{ messages[0].get('nope', 'fb') }}",
    "{%- set sys = messages[0]['content'] if messages[0]['role'] == 'system' else '' -%}\n"
    "{%- set rest = messages[1:] if sys else messages -%}\n[{{ sys|trim }}]\n"
    "{% for m in rest %}\n  {%- if m.role == 'user' %}\nU: {{ m.content }}\n  {%- else %}\n"
    "A: {{ m.content }}\n  {%- endif %}\n{% endfor %}\n{% if add_generation_prompt %}A:{% endif %}",
    "{% set x = 'outer' %}{% for m in messages %}{% set x = m.role %}{% endfor %}{{ x }} "
    "{% set b %}block {{ 1 + 1 }}{% endset %}{{ b }} {{ messages|length is even }} "
    "{{ '%s' ~ 5 }} {{ \"dq\\n\\u00e9\" }} {{ 'a' 'b' }} {{ messages[0].content.missing }}"
    "{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}",
]

# jinja2 refuses these at render time; so must qopt.
FAILING_TEMPLATES = [
    ("{{ raise_exception('nope: ' + messages[0].role) }}", "nope: system"),
    ("{{ 1 + 'a' }}", "unsupported operand"),
    ("{{ undefined_thing.attr }}", "undefined"),
    ("{% for m in messages %}{% endif %}", "endif"),
    ("{{ messages[0] ", "not closed"),
]

# Valid Jinja outside the subset: refused, naming the construct.
UNSUPPORTED = [
    ("{% macro greet(x) %}hi {{ x }}{% endmacro %}{{ greet('a') }}", "'macro'"),
    ("{% filter upper %}x{% endfilter %}", "'filter'"),
    ("{{ messages|batch(2)|list }}", "filter 'batch'"),
    ("{% if messages is sameas_not_a_test %}{% endif %}", "test 'sameas_not_a_test'"),
    ("{% raw %}{{ x }}{% endraw %}", "'raw'"),
]


class ChatTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def qopt(self, template_text, messages, generation_prompt=True, tokenizer=LLAMA2_JSON):
        """(exit code, stdout, stderr) of qopt chat-template."""
        msg_path = os.path.join(self.tmp.name, "messages.json")
        with open(msg_path, "w", encoding="utf-8") as f:
            json.dump(messages, f, ensure_ascii=False)
        cmd = [QOPT, "chat-template", tokenizer, "--messages", msg_path,
               "--add-generation-prompt=" + ("true" if generation_prompt else "false")]
        if template_text is not None:
            tmpl_path = os.path.join(self.tmp.name, "template.jinja")
            with open(tmpl_path, "w", encoding="utf-8") as f:
                f.write(template_text)
            cmd += ["--chat-template", tmpl_path]
        r = subprocess.run(cmd, capture_output=True)
        return r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8")

    def check_against_jinja2(self, template_text, messages, generation_prompt, bos, eos,
                             tokenizer=LLAMA2_JSON, use_own=False):
        try:
            want = hf_render(template_text, messages, generation_prompt, bos, eos)
        except jinja2.exceptions.TemplateError:
            want = None
        code, got, err = self.qopt(None if use_own else template_text, messages,
                                   generation_prompt, tokenizer)
        if want is None:
            self.assertEqual(code, 1, "jinja2 refused this conversation; qopt printed " + got)
            self.assertIn("refused the conversation", err)
            self.assertEqual(len(err.strip().splitlines()), 1)
        else:
            self.assertEqual(code, 0, err)
            self.assertEqual(got, want)
        return want

    def test_real_templates(self):
        paths = sorted(glob.glob(os.path.join(HF, "chat-templates", "*.jinja")))
        self.assertEqual(len(paths), 3)
        rendered = 0
        for path in paths:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for i, conv in enumerate(CONVERSATIONS):
                for gen in (True, False):
                    with self.subTest(template=os.path.basename(path), conversation=i, gen=gen):
                        rendered += self.check_against_jinja2(text, conv, gen, "<s>", "</s>") \
                            is not None
        self.assertGreaterEqual(rendered, 28)  # all but Mistral's refusal of two user turns

    def test_phi3_own_template(self):
        """The template a tokenizer_config.json carries, with that tokenizer's
        own bos_token and eos_token."""
        with open(os.path.join(PHI3_DIR, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        for i, conv in enumerate(CONVERSATIONS):
            for gen in (True, False):
                with self.subTest(conversation=i, gen=gen):
                    self.check_against_jinja2(config["chat_template"], conv, gen,
                                              config["bos_token"], config["eos_token"],
                                              tokenizer=PHI3_DIR, use_own=True)

    def test_rendered_tokens_match_special_tokens(self):
        """--tokens: the rendered text encoded with special tokens whole and
        no BOS added (apply_chat_template's add_special_tokens=False)."""
        msg = os.path.join(self.tmp.name, "m.json")
        with open(msg, "w") as f:
            json.dump([{"role": "user", "content": "Hi"}], f)
        r = subprocess.run([QOPT, "chat-template", PHI3_DIR, "--messages", msg, "--tokens"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [int(t) for t in r.stdout.split()]
        with open(os.path.join(PHI3_DIR, "tokenizer.json"), encoding="utf-8") as f:
            added = {t["content"]: t["id"] for t in json.load(f)["added_tokens"]}
        # "<|user|>\nHi<|end|>\n<|assistant|>\n": these added tokens strip
        # the whitespace after them (rstrip), no BOS is added
        self.assertEqual(ids[0], added["<|user|>"])
        self.assertEqual(ids[-2:], [added["<|end|>"], added["<|assistant|>"]])
        self.assertGreater(len(ids), 3)
        self.assertNotIn(1, ids)

    def test_small_templates(self):
        for i, text in enumerate(SMALL_TEMPLATES):
            for gen in (True, False):
                with self.subTest(template=i, gen=gen):
                    self.check_against_jinja2(text, CONVERSATIONS[2], gen, "<s>", "</s>")

    def test_errors(self):
        for text, needle in FAILING_TEMPLATES:
            with self.subTest(template=text):
                with self.assertRaises(Exception):
                    hf_render(text, CONVERSATIONS[2], True, "<s>", "</s>")
                code, out, err = self.qopt(text, CONVERSATIONS[2])
                self.assertEqual(code, 1)
                self.assertEqual(out, "")
                self.assertIn(needle, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_unsupported_constructs_are_named(self):
        for text, needle in UNSUPPORTED:
            with self.subTest(template=text):
                code, out, err = self.qopt(text, CONVERSATIONS[0])
                self.assertEqual(code, 1)
                self.assertEqual(out, "")
                self.assertIn("unsupported Jinja", err)
                self.assertIn(needle, err)

    def test_bad_options(self):
        for args, needle in [
            ([LLAMA2_JSON, "-p", "x"], "no chat template"),
            ([PHI3_DIR], "--messages FILE or -p TEXT"),
            ([PHI3_DIR, "--messages", "/nonexistent.json"], "cannot open"),
        ]:
            with self.subTest(args=args):
                r = subprocess.run([QOPT, "chat-template"] + args, capture_output=True, text=True)
                self.assertEqual(r.returncode, 1)
                self.assertIn(needle, r.stderr)
        bad = os.path.join(self.tmp.name, "bad.json")
        for content, needle in [('{"role": "user"}', "array"),
                                ('[{"role": "user", "content": 3}]', "'content'"),
                                ("[{", "not valid JSON")]:
            with open(bad, "w") as f:
                f.write(content)
            r = subprocess.run([QOPT, "chat-template", PHI3_DIR, "--messages", bad],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn(needle, r.stderr)


if __name__ == "__main__":
    unittest.main()
