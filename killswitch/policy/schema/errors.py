"""pydantic's validation errors → diagnostics with positions.

What it owns: turning each error pydantic reports into one :class:`Diagnostic` with a code, the
line:col of the offending key or value, and a hint (the keys allowed there, a close match of a
misspelled name). The keys allowed at a path are :mod:`.tree`'s; what is kept of a
document with errors is :mod:`.salvage`'s.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from pydantic import ValidationError

from .. import diagnostics as d
from ..diagnostics import Diagnostic
from ..documents import LoadedDoc, Path
from ..units import DURATION_HINT as _DURATION_HINT, value_kind
from .tree import allowed_keys, model_at

# --- pydantic errors → diagnostics ----------------------------------------------------------------


@dataclass
class _Err:
    type: str
    path: Path  # cleaned: only keys and indices of the document
    message: str
    ctx: dict[str, Any]
    input: Any
    union: bool  # the error came from one branch of a union


def _looks_like_tag(el: Any) -> bool:
    """pydantic's names for union branches and validators (``constrained-float``, ``function-after[…]``,
    ``AppriseTarget``, ``str``). Only met for elements that are not keys of the document."""
    return isinstance(el, str) and (
        "[" in el or "-" in el or el[:1].isupper() or el in ("str", "int", "float", "bool", "dict", "list")
    )


def clean_errors(e: ValidationError, raw: dict[str, Any], cls: type) -> list[_Err]:
    out: list[_Err] = []
    seen: dict[Path, _Err] = {}
    missing: dict[Path, _Err] = {}
    for err in e.errors(include_url=False):
        path: list[Any] = []
        node: Any = raw
        union = False
        for el in err["loc"]:
            if isinstance(node, dict) and isinstance(el, str) and el in node:
                path.append(el)
                node = node[el]
            elif isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node):
                path.append(el)
                node = node[el]
            elif el == "[key]":
                path.append(el)
                node = None
            elif _looks_like_tag(el):
                union = True
            else:
                path.append(el)
                node = None
        key = tuple(path)
        if union and key in seen:
            # one diagnostic per place: the branches of a union become "expected A, or B"
            prev = seen[key]
            if err["msg"] not in prev.message:
                prev.message += ", or " + _reword(err["msg"]).replace("expected ", "", 1)
            continue
        item = _Err(err["type"], key, err["msg"], dict(err.get("ctx") or {}), err.get("input"), union)
        if item.type == "missing" and key:
            # all missing keys of one mapping in one diagnostic
            group = missing.get(key[:-1])
            if group is not None:
                group.ctx["keys"].append(str(key[-1]))
                continue
            item.ctx["keys"] = [str(key[-1])]
            missing[key[:-1]] = item
        seen[key] = item
        out.append(item)
    return out


_TYPE_CODES = {
    "ks_duration": d.KS110,
    "ks_percent": d.KS111,
    "ks_amount": d.KS112,
    "ks_confirmation": d.KS113,
    "ks_pattern": d.KS114,
    "ks_secret": d.KS209,
    "ks_series": d.KS140,
    "ks_missing": d.KS102,
    "ks_condition_limit": d.KS123,
    "ks_matcher": d.KS160,
    "ks_limit_unit": d.KS265,
    "ks_limit": d.KS266,
    "ks_window": d.KS270,
}

_SECRET_KEYS = {"credentials", "apprise", "url"}


def human_path(path: Path) -> str:
    parts: list[str] = []
    for el in path:
        if isinstance(el, int):
            parts.append(f"[{el}]")
        elif el == "[key]":
            continue
        else:
            parts.append(("." if parts else "") + str(el))
    text = "".join(parts)
    return text[5:] if text.startswith("spec.") else text


def diagnostic(err: _Err, doc: LoadedDoc, cls: type) -> Diagnostic:
    """One pydantic error as a diagnostic: a code, the line:col of the offending key or value, a
    message naming the place, and a hint (always: what is allowed there, or the closest name)."""
    sm, file, path = doc.srcmap, doc.file, err.path
    where = human_path(path)
    secret = any(isinstance(el, str) and el in _SECRET_KEYS for el in path)
    if err.type == "extra_forbidden":
        key = str(path[-1])
        allowed = allowed_keys(cls, path[:-1])
        parent = human_path(path[:-1]) or "the document"
        kinds = _kinds(cls, path[:-1])
        if kinds is not None:  # {close_everything: {}}: a kind that does not exist
            return Diagnostic.make(d.KS101, file, sm.key(path), f'unknown {kinds} "{key}" in {parent}',
                                   d.suggestion_hint(key, allowed, _KIND_HOW[kinds]))
        return Diagnostic.make(d.KS101, file, sm.key(path), f'unknown key "{key}" in {parent}',
                               _keys_hint(key, allowed, parent))

    if err.type == "missing":
        keys = err.ctx.get("keys") or [str(path[-1])]
        parent_path = path[:-1]
        where_parent = human_path(parent_path) or "the document"
        pos = sm.key(parent_path) if parent_path else sm.doc
        names = ", ".join(f'"{k}"' for k in keys)
        noun = "key" if len(keys) == 1 else "keys"
        return Diagnostic.make(d.KS102, file, pos, f"missing required {noun} {names} in {where_parent}",
                               f"add {', '.join(k + ':' for k in keys)} under {where_parent}")
    if path and path[-1] == "[key]":
        name = str(path[-2])
        return Diagnostic.make(d.KS103, file, sm.key(path[:-1]), f'invalid name "{name}" in {human_path(path[:-2])}',
                               _name_hint(err))
    if err.type == "ks_one_kind":
        choices = err.ctx.get("choices", [])
        return Diagnostic.make(d.KS103, file, sm.key(path), f"{where}: {err.message}",
                               "one of: " + ", ".join(choices) if choices else _section_hint(path))
    if err.type == "ks_missing":
        return Diagnostic.make(d.KS102, file, sm.key(path), f"{where}: {err.message}",
                               err.ctx.get("ks_hint") or f"add it under {where or 'the document'}")
    if err.type in ("model_type", "dict_type", "model_attributes_type"):
        return _not_a_mapping(err, doc, cls, where, secret)
    code = _TYPE_CODES.get(err.type, d.KS103)
    message = _reword(err.message)
    hint = err.ctx.get("ks_hint")
    if err.type == "string_pattern_mismatch":
        shown = f' "{err.input}"' if isinstance(err.input, str) and not secret and len(err.input) <= 80 else ""
        message = f"{where}:{shown} is not a valid name"
        hint = _PATTERN_HINTS.get(err.ctx.get("pattern", ""), f"it must match {err.ctx.get('pattern', '')}")
        return Diagnostic.make(code, file, sm.value(path), message, hint)
    if err.type in ("literal_error", "enum") and isinstance(err.input, str) and not secret:
        expected = err.ctx.get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
        best = d.did_you_mean(err.input, options)
        hint = f'did you mean "{best}"?' if best else f"one of: {', '.join(options)}"
        message = f'"{err.input}" is not allowed; expected {expected}'
    if err.type in ("ks_condition_limit", "ks_matcher") and isinstance(err.input, str):  # at the character at fault
        return Diagnostic.make(code, file, sm.inside(path, err.ctx["offset"], err.input), f"{where}: {message}",
                               hint or _CODE_HINTS.get(code.code))
    if err.type == "ks_pattern" and isinstance(err.input, str) and err.ctx.get("ks_offset") is not None:
        return Diagnostic.make(code, file, sm.inside(path, err.ctx["ks_offset"], err.input), f"{where}: {message}",
                               hint or _CODE_HINTS.get(code.code))
    if err.type == "ks_value" and "choices" in err.ctx:
        bad = message.split('"')[1] if '"' in message else ""
        best = d.did_you_mean(bad, err.ctx["choices"])
        hint = f'did you mean "{best}"?' if best else "one of: " + ", ".join(err.ctx["choices"])
    if hint is None:
        message, hint = _split_advice(message)
    if hint is None:
        hint = _type_hint(err, secret) or _CODE_HINTS.get(code.code) or _section_hint(path)
    return Diagnostic.make(code, file, sm.value(path), f"{where}: {message}" if where else message, hint)


def _kinds(cls: type, path: Path) -> str | None:
    """"action" or "signal kind" when ``path`` holds a model that is one kind out of several
    (its keys are the kinds), else None."""
    model = model_at(cls, path)
    return _KIND_NOUNS.get(model.__name__) if model is not None else None


_KIND_NOUNS = {"Action": "action", "Signal": "signal kind"}
def _keys_hint(key: str, allowed: Iterable[str], parent: str) -> str:
    """``did you mean "cooldown"? the keys allowed under stages[1] are: actions, approvals, ...``:
    the closest key if any, then every key allowed there (the list is the sentence's end)."""
    keys = sorted(set(allowed))
    listed = f"the keys allowed under {parent} are: {', '.join(keys)}" if keys else f"no key is allowed under {parent}"
    best = d.did_you_mean(key, keys)
    return f'did you mean "{best}"? {listed}' if best is not None else listed


_KIND_HOW = {
    "action": "an action is a kind (close_all) or a kind with its parameters ({close_side: {side: losing}}); "
              "see docs/policy-language.md, Stages and actions",
    "signal kind": "a signal is a kind with its parameters ({equity_drawdown: {window: 15m}}); "
                   "see docs/policy-language.md, Signals",
}


def _not_a_mapping(err: _Err, doc: LoadedDoc, cls: type, where: str, secret: bool) -> Diagnostic:
    """A scalar or list where a mapping belongs: for an action or a signal, a kind that does not
    exist (``- close_everything``); elsewhere, the keys that belong there."""
    sm, path = doc.srcmap, err.path
    allowed = allowed_keys(cls, path)
    kinds = _kinds(cls, path)
    value = err.input
    at = f"{where}: " if where else ""
    if kinds is not None and isinstance(value, str) and not secret:
        return Diagnostic.make(d.KS103, doc.file, sm.value(path), f'{at}unknown {kinds} "{_short(value)}"',
                               d.suggestion_hint(value, allowed, _KIND_HOW[kinds]))
    got = _what(value)
    if kinds is not None:
        return Diagnostic.make(d.KS103, doc.file, sm.value(path), f"{at}expected an {kinds}, got {got}"
                               if kinds[0] in "aeiou" else f"{at}expected a {kinds}, got {got}",
                               f"write one of: {', '.join(allowed)} (with its parameters as a mapping)")
    hint = (f"write a mapping with keys from: {', '.join(allowed)}" if allowed
            else "write a mapping (key: value lines, or {key: value})")
    return Diagnostic.make(d.KS103, doc.file, sm.value(path), f"{at}expected a mapping, got {got}", hint)


def _what(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__ if isinstance(value, dict) else value_kind(value)


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _split_advice(message: str) -> tuple[str, str | None]:
    """``what is wrong; what to do`` → (what is wrong, what to do): the advice is the hint."""
    head, sep, tail = message.partition("; ")
    if sep and head.strip() and tail.strip():
        return head, tail
    return message, None


def _type_hint(err: _Err, secret: bool) -> str | None:
    """What to write instead, for pydantic's own type and range errors."""
    t, ctx = err.type, err.ctx
    if t == "list_type":
        if isinstance(err.input, str) and not secret and 0 < len(err.input) <= 40 and "\n" not in err.input:
            return f"write a list, e.g. [{err.input}]"
        return "write a list: [a, b], or one item per line starting with \"- \""
    if t in ("int_type", "int_parsing", "int_from_float"):
        return "write a whole number, e.g. 3"
    if t in ("float_type", "float_parsing", "finite_number"):
        return "write a number, e.g. 0.25"
    if t in ("bool_type", "bool_parsing"):
        return "write true or false (unquoted)"
    if t == "string_type":
        return 'write text; quote it when YAML would read a number, a boolean or null ("3", "on", "null")'
    if t in ("string_too_short", "too_short"):
        n = ctx.get("min_length", 1)
        return "it must not be empty" if n == 1 and t == "string_too_short" else f"give at least {n}"
    if t in ("string_too_long", "too_long"):
        return f"give at most {ctx.get('max_length', '')}".rstrip()
    for key, words in (("ge", "the smallest allowed is"), ("gt", "it must be above"),
                       ("le", "the largest allowed is"), ("lt", "it must be below")):
        if key in ctx:
            return f"{words} {ctx[key]}"
    if t in ("literal_error", "enum"):
        return f"one of: {ctx.get('expected', '')}"
    return None


# Fallback hints by code, for validators that say what is wrong but not what to write.
_CODE_HINTS = {
    "KS110": _DURATION_HINT,
    "KS111": "write a percentage such as 4.5%; a bare number is read as a fraction only between 0 and 1",
    "KS112": "use 50000, 50_000, 50k or 1.5M (in the account's quote currency)",
    "KS113": "write a tick count (3 ticks) or a duration (2m)",
    "KS160": 'write name="value", name!="value", name=~"regex" or name!~"regex" (a label the event lacks '
             'is ""); several in one line: {a="b", c!~"d|e"}; a " or \\ inside a value is written \\" or \\\\',
    "KS140": "a series is samples separated by spaces: 10000, 10000-100x9 (from 10000, 100 less 9 times), "
             "_ (no sample), stale (a failed fetch)",
    "KS209": "give a secret as a reference: {env: VAR} or {file: PATH}",
}


def _section_hint(path: Path) -> str:
    """Where the reference of the setting at ``path`` is."""
    words = {el for el in path if isinstance(el, str)}
    language = "docs/policy-language.md"
    for keys, section in ((("signals",), f"{language}, Signals"),
                          (("stages", "actions"), f"{language}, Stages and actions"),
                          (("triggers",), f"{language}, Conditions"), (("resume",), f"{language}, Stages and actions"),
                          (("tests", "input", "expect"), f"{language}, Documents (PolicyTest)"),
                          (("accounts",), f"{language}, Documents (Accounts)"),
                          (("route", "receivers"), "docs/sinks.md, Notifications")):
        if words & set(keys):
            return f"see {section}, for what this setting takes"
    return "see docs/policy-language.md for what this setting takes (ksctl schema prints the JSON Schema)"


def _pattern_hints() -> dict[str, str]:
    from ..fields import IDENT_RE, NAME_RE

    return {
        NAME_RE: "names take lower-case letters, digits and dashes, and start and end with a letter or digit",
        IDENT_RE: "names used in conditions take letters, digits and _, and start with a letter or _",
        r"^[A-Za-z_][A-Za-z0-9_]*$": "an environment variable name takes letters, digits and _",
        r"^[a-z0-9_]+$": "a venue is a ccxt exchange id such as binanceusdm, bybit or okx",
    }


_PATTERN_HINTS = _pattern_hints()


def _name_hint(err: _Err) -> str:
    pattern = err.ctx.get("pattern", "")
    if "_" in pattern and "A-Z" in pattern:
        return "names used in conditions take letters, digits and _ and start with a letter"
    return "names take lower-case letters, digits and dashes"


def _reword(msg: str) -> str:
    msg = msg.replace("Input should be", "expected").replace("Value error, ", "")
    msg = msg.replace("String should match pattern", "does not match the pattern")
    return msg
