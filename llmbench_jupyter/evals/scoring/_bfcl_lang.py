"""BFCL's Java and JavaScript parameters: source-code strings read back into values.

BFCL asks models for Java/JavaScript arguments as source code in a string (``"5L"``,
``"new ArrayList<>(Arrays.asList(1, 2))"``, ``"{'a': 1}"``) and reads them back with
regular expressions before its usual checks. A string that does not read as the
parameter's type stays a string (and then fails the type check). These are BFCL V4's rules
as its checker applies them, quirks included: a Java ``char`` is never read (it stays
as written), a Java ``String`` keeps its quotes, and a JavaScript dict is read up to its
first ``}``.
"""

from __future__ import annotations

import re
from typing import Any

from llmbench_jupyter.evals.model import EvalModelError

JAVA_TYPES: dict[str, type] = {
    "byte": int,
    "short": int,
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "boolean": bool,
    "char": str,
    "String": str,
    "any": str,
    "Array": list,
    "ArrayList": list,
    "Queue": list,
    "Stack": list,
    "HashMap": dict,
    "Hashtable": dict,
    "Set": set,
}
JS_TYPES: dict[str, type] = {
    "String": str,
    "integer": int,
    "float": float,
    "Bigint": int,
    "Boolean": bool,
    "dict": dict,
    "array": list,
    "any": str,
}
#: types whose items' type is read too
LIST_TYPES = ("Array", "ArrayList", "array")

_INT = re.compile(r"-?\d+")
_JAVA_FLOAT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]")
_JAVA_DOUBLE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_JAVA_LONG = re.compile(r"-?\d+[lL]")


#: raised for a type BFCL's checker cannot read (it raises there too)
Unreadable = EvalModelError


def _number(text: str) -> Any:
    """Python's own reading: int, else float, else the text."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# --- Java -------------------------------------------------------------------------------
def _java_literal(text: str) -> Any:
    """A Java literal read without a declared type."""
    if text in ("true", "false"):
        return text == "true"
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1]
    if _JAVA_LONG.fullmatch(text):
        return int(text[:-1])
    if _JAVA_FLOAT.fullmatch(text):
        return float(text[:-1])
    return _number(text)


def _java_item(text: str, item_type: str | None) -> Any:
    if item_type in ("char", "String"):
        return text[1:-1]
    return java_value(text, item_type) if item_type else _java_literal(text)


def java_value(text: str, type_name: str, item_type: str | None = None) -> Any:
    """A Java argument (source code) as BFCL reads it for a parameter of ``type_name``."""
    if type_name in ("byte", "short", "integer"):
        return int(text) if _INT.fullmatch(text) else text
    if type_name == "float":
        return float(text[:-1]) if _JAVA_FLOAT.fullmatch(text) else text
    if type_name == "double":
        return float(text) if _JAVA_DOUBLE.fullmatch(text) else text
    if type_name == "long":
        return int(text[:-1]) if _JAVA_LONG.fullmatch(text) else text
    if type_name == "boolean":
        return text == "true" if text in ("true", "false") else text
    if type_name in ("char", "String", "any"):
        return text
    if type_name == "Array":
        m = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", text)
        if not m:
            return text
        read = (lambda x: java_value(x, item_type)) if item_type else _java_literal
        return [read(x.strip()) for x in m.group(1).split(",") if x.strip()]
    if type_name == "ArrayList":
        m = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", text)
        if m:
            return [_java_item(x.strip(), item_type) for x in m.group(1).split(",")]
        m = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", text, re.DOTALL)
        if m:
            adds = re.findall(r"add\((.+?)\)", m.group(1))
            return [_java_item(x.strip(), item_type) for x in adds]
        return [] if re.search(r"new\s+ArrayList<\w*>\(\)", text) else text
    if type_name == "HashMap":
        m = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", text, re.DOTALL)
        if m:
            puts = re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", m.group(1))
            return {k: _java_literal(v.strip()) for k, v in puts}
        return {} if re.search(r"new\s+HashMap<.*?>\s*\(\)", text) else text
    raise Unreadable(f"BFCL cannot read a Java {type_name}")


# --- JavaScript -------------------------------------------------------------------------
def _js_literal(text: str) -> Any:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return _number(text)


def _js_array(code: str, item_type: str | None) -> Any:
    two_d = re.match(
        r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)",
        code,
    )
    if two_d:
        rows = []
        for i, inner in enumerate(re.findall(r"\[(.*?)\]", two_d.group(0))):
            inner = inner.strip()
            if i == 0 and inner.startswith("["):
                inner = inner[1:]
            rows.append([_js_literal(e.strip()) for e in inner.split(",")])
        return rows
    m = re.match(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)", code)
    if not m:
        return code
    body = (m.group(1) if m.group(1) is not None else m.group(2) or "").strip()
    items = body.split(",") if body else []
    if not item_type:
        return [_js_literal(e.strip()) for e in items]
    return [js_value(e.strip(), item_type) for e in items]


def _js_dict(code: str) -> Any:
    if code == "{}":
        return {}
    m = re.match(r"\{(.*?)\}", code)
    if not m:
        return code
    out: dict[str, Any] = {}
    for key, value in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", m.group(1)):
        key, value = key.strip().strip("'\""), value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key] = js_value(value, "array")
        elif value.startswith("{") and value.endswith("}"):
            out[key] = js_value(value, "dict")
        else:
            out[key] = _js_literal(value.strip("'\""))
    return out


def js_value(text: str, type_name: str, item_type: str | None = None) -> Any:
    """A JavaScript argument (source code) as BFCL reads it for a parameter of ``type_name``."""
    if type_name not in JS_TYPES:
        raise Unreadable(f"BFCL cannot read a JavaScript {type_name}")
    if type_name == "String":
        quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
        return text[1:-1] if quoted else text
    if type_name == "integer":
        return int(text) if _INT.fullmatch(text) else text
    if type_name == "float":
        return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text
    if type_name == "Bigint":
        return int(text[:-1]) if re.fullmatch(r"-?\d+n", text) else text
    if type_name == "Boolean":
        return text == "true" if text in ("true", "false") else text
    if type_name == "any":
        return text
    code = text.strip()
    try:
        return _js_dict(code) if type_name == "dict" else _js_array(code, item_type)
    except (ValueError, IndexError):  # BFCL keeps the text when reading fails
        return code
