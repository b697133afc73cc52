# Copyright: gpu_e2e.platform contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parser of Triton's config.pbtxt (protobuf text format), without protobuf.

A copy of the parser in plugins/module_utils/triton_config.py: the runtime
runs without the collection on its path. tests/unit/test_triton_config.py
asserts that both give the same result.
"""

from __future__ import annotations

import re

REPEATED = frozenset(
    {
        "input", "output", "dims", "instance_group", "preferred_batch_size", "gpus", "parameters",
        "gpu_execution_accelerator", "cpu_execution_accelerator", "profile", "host_policy",
        "model_warmup", "versions",
    }
)


class TritonConfigError(ValueError):
    """A configuration that cannot be parsed."""


# --- parse ------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<punct>[{}\[\]:,;<>])
    )""",
    re.VERBOSE,
)


def _tokenize(text):
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            line = text.count("\n", 0, pos) + 1
            raise TritonConfigError(f"config.pbtxt line {line}: unexpected text {text[pos:pos + 20]!r}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "comment":
            continue
        tokens.append((kind, match.group(kind), text.count("\n", 0, match.start()) + 1))
    return tokens


def _unquote(token):
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None, None)

    def take(self, expected=None):
        kind, value, line = self.peek()
        if kind is None:
            raise TritonConfigError("config.pbtxt ends too early")
        if expected is not None and value != expected:
            raise TritonConfigError(f"config.pbtxt line {line}: expected '{expected}', found '{value}'")
        self.pos += 1
        return kind, value, line

    def message(self, closing=None):
        result = {}
        while True:
            kind, value, line = self.peek()
            if kind is None:
                if closing:
                    raise TritonConfigError(f"config.pbtxt: missing '{closing}'")
                return result
            if value == closing:
                self.take()
                return result
            if value in (",", ";"):
                self.take()
                continue
            if kind != "ident":
                raise TritonConfigError(f"config.pbtxt line {line}: expected a field name, found '{value}'")
            self.take()
            if self.peek()[1] == ":":
                self.take()
            field_value = self.value(value)
            self._add(result, value, field_value)

    @staticmethod
    def _add(result, key, value):
        if key in result:
            if not isinstance(result[key], list) or key not in REPEATED:
                result[key] = [result[key]] if not isinstance(result[key], list) else result[key]
            result[key].extend(value if isinstance(value, list) else [value])
        elif key in REPEATED and not isinstance(value, list):
            result[key] = [value]
        else:
            result[key] = value

    def value(self, key):
        kind, value, line = self.take()
        if value in ("{", "<"):
            return self.message("}" if value == "{" else ">")
        if value == "[":
            items = []
            while self.peek()[1] != "]":
                if self.peek()[1] == ",":
                    self.take()
                    continue
                items.append(self.value(key))
            self.take("]")
            return items
        if kind == "string":
            parts = [_unquote(value)]
            while self.peek()[0] == "string":  # adjacent strings concatenate
                parts.append(_unquote(self.take()[1]))
            return "".join(parts)
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "ident":
            if value in ("true", "True"):
                return True
            if value in ("false", "False"):
                return False
            return value
        raise TritonConfigError(f"config.pbtxt line {line}: unexpected '{value}' for field '{key}'")


def parse(text):
    """Parse config.pbtxt text into a dict (repeated fields as lists)."""
    return _Parser(text).message()
