"""Label patterns: the one place where a regular expression a person wrote is compiled.

Every pattern over labels goes through :func:`compile_label_pattern` — a route's or an inhibit
rule's ``match_re``, a silence's ``=~`` and ``!~`` — and is judged by :func:`pattern_problem`,
which the policy models use to report a bad one as KS114 where it is written.

What a pattern means is what it means to Alertmanager, whose matchers these are:

- **RE2 syntax, matched in linear time.** Alertmanager compiles with Go's ``regexp`` (RE2); this
  compiles with RE2 itself (``google-re2``). Matching takes time linear in the label, whatever
  the pattern: Python's ``re`` backtracks, and a 20-character pattern such as
  ``(.*.*.*.*.*.*.*.*)*zz`` held it for 44 s, three times longer for every ``.*`` more.
- **Anchored** as ``^(?:pattern)$``, where ``$`` is the end of the text: ``foo`` matches the
  label ``foo`` and neither ``foo\\n`` nor ``xfoo``. A pattern must also stand alone (its
  parentheses balanced by itself), so ``a)|(b`` cannot reach out of the anchors.
- **Refused, with what RE2 said**: what RE2 cannot run in linear time (backreferences,
  lookahead and lookbehind), malformed syntax, a repeat over 1000 (``a{1001}``; RE2 would read
  ``a{99999999999}`` as literal text where Go refuses it: refused here too), a compiled program
  over :data:`MAX_MEM`, a pattern over :data:`MAX_PATTERN_LENGTH` characters, a character that
  is not text (a lone surrogate).

Nesting is no longer bounded: RE2 parses and compiles without recursing on each group (Python's
``re`` did, which is why patterns were once held to 32 levels); the length bound remains.

RE2 is a C library doing pure computation, like numpy: imported inside the functions that
compile (``ksctl validate`` of policies alone never loads it). Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import re
from dataclasses import field
from typing import Any, Iterator, Optional

from ..records import record

# A label pattern is a name or a few alternatives (the examples' longest is 10 characters); the
# bound is a condition's (killswitch.policy.expr.MAX_LENGTH).
MAX_PATTERN_LENGTH = 4096
# RE2's budget for one compiled pattern (its program and its DFA cache), below RE2's default of
# 8 MiB: label patterns compile to a few hundred bytes, and silences multiply them.
MAX_MEM = 1 << 20
# RE2's (and Go's) bound on a repeat count
MAX_REPEAT = 1000

SYNTAX_HINT = "label patterns are RE2 syntax, as Alertmanager's: https://github.com/google/re2/wiki/Syntax"

# a counted repeat as RE2 reads one: {n}, {n,} or {n,m}, without a leading zero
_REPEAT = re.compile(r"\{(0|[1-9][0-9]*)(?:,(0|[1-9][0-9]*)?)?\}")


@record
class PatternProblem:
    """Why a pattern is refused: ``message`` (what RE2 said, in words), ``hint`` (what to write
    instead) and ``offset``, the character of the pattern it is about (None: the whole)."""

    message: str
    hint: str
    offset: Optional[int] = None


class PatternError(ValueError):
    """A refused pattern; ``problem`` says why."""

    def __init__(self, problem: PatternProblem):
        super().__init__(problem.message)
        self.problem = problem


@record
class LabelPattern:
    """A compiled label pattern: :meth:`matches` is true when the whole label matches."""

    text: str
    regexp: Any = field(compare=False, repr=False)  # re2's compiled ^(?:text)$

    def matches(self, value: str) -> bool:
        try:
            return self.regexp.fullmatch(value) is not None
        except UnicodeEncodeError:  # a lone surrogate: matched as the text it would print as
            return self.regexp.fullmatch(value.encode("utf-8", "replace").decode("utf-8")) is not None

    def __str__(self) -> str:
        return self.text


def _options() -> Any:
    import re2  # a C library, loaded only by what compiles a pattern

    options = re2.Options()
    options.max_mem = MAX_MEM
    options.log_errors = False  # RE2 would write each refusal to stderr; it is returned instead
    return options


def _re2_compile(text: str) -> tuple[Any, Optional[PatternProblem]]:
    import re2

    try:
        return re2.compile(text, _options()), None
    except re2.error as e:
        said = e.args[0] if e.args else ""
        said = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
        return None, _explained(text, said)
    except UnicodeEncodeError as e:
        return None, PatternProblem("holds a character that is not text (a lone surrogate)",
                                    "write the pattern in UTF-8 text", e.start)


def _explained(text: str, said: str) -> PatternProblem:
    """RE2's refusal as a problem: its words, a hint for the usual causes, and where in the
    pattern the fragment RE2 names begins (RE2 says ``invalid perl operator: (?=``)."""
    fragment = said.partition(": ")[2]
    # a product of repeats is over the bound at the outer one, the last RE2 names
    offset = (text.rfind if said.startswith("invalid repetition size") else text.find)(fragment) if fragment else -1
    where = offset if offset >= 0 else None
    if said.startswith(("missing )", "unexpected )")):  # RE2 names the whole pattern: find the parenthesis
        where = _unbalanced(text)
    if fragment == text:  # said already, where the message names the pattern
        said = said.partition(": ")[0]
    if said.startswith(("invalid perl operator: (?=", "invalid perl operator: (?!", "invalid perl operator: (?<")):
        hint = ("RE2 has no lookahead or lookbehind (they cannot run in linear time): write the whole label, "
                "or alternatives such as binance|bybit")
    elif re.match(r"invalid escape sequence: \\[1-9]", said):
        hint = "RE2 has no backreferences (they cannot run in linear time): write the text itself"
    elif said.startswith(("invalid repetition size", "bad repetition operator", "no argument for repetition")):
        hint = (f"RE2 repeats at most {MAX_REPEAT} times, nested repeats multiplied ((a{{100}}){{11}} is 1100), "
                f"and one repeat at a time: a{{1,{MAX_REPEAT}}}, (ab)+")
    elif said.startswith("pattern too large"):
        said = f"it compiles to more than {MAX_MEM >> 20} MiB, RE2's bound for one pattern here"
        hint = "a label pattern is a name or a few alternatives: drop large repeats and Unicode classes"
    elif said.startswith(("missing ", "unexpected ", "trailing ")):
        hint = "escape a literal ( ) [ ] or \\ with a backslash; " + SYNTAX_HINT
    else:
        hint = SYNTAX_HINT
    return PatternProblem(f"is not a valid RE2 pattern: {said}", hint, where)


def _structure(text: str) -> Iterator[int]:
    """The offsets of the characters of ``text`` that RE2 reads as syntax: not escaped, not in
    ``\\Q...\\E`` and not inside a character class (whose "[" is given, its members are not)."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if text.startswith("\\Q", i):
                end = text.find("\\E", i + 2)
                i = n if end < 0 else end + 2
            else:
                i += 2
            continue
        yield i
        i = _class_end(text, i) if ch == "[" else i + 1


def _class_end(text: str, i: int) -> int:
    """The index past the character class that opens at ``text[i]`` ("["): a "]" right after
    "[" or "[^" is a member, as are escapes and ``[:alpha:]``."""
    n = len(text)
    i += 1
    if i < n and text[i] == "^":
        i += 1
    if i < n and text[i] == "]":
        i += 1
    while i < n and text[i] != "]":
        if text[i] == "\\":
            i += 2
        elif text.startswith("[:", i) and text.find(":]", i + 2) >= 0:
            i = text.find(":]", i + 2) + 2
        else:
            i += 1
    return i + 1


def _repeat_over_bound(text: str) -> Optional[PatternProblem]:
    """A counted repeat over :data:`MAX_REPEAT`. RE2 refuses one it can count, but reads a
    count past 10^8 (``a{99999999999}``) as literal text; Go's regexp, and so Alertmanager,
    refuses it."""
    for i in _structure(text):
        m = _REPEAT.match(text, i) if text[i] == "{" else None
        if m is None:
            continue
        if any(len(c) > 4 or int(c) > MAX_REPEAT for c in m.groups() if c is not None):
            shown = m.group() if len(m.group()) <= 24 else m.group()[:20] + "...}"
            return PatternProblem(f"is not a valid RE2 pattern: the repeat {shown} is over {MAX_REPEAT}",
                                  f"RE2 repeats at most {MAX_REPEAT} times: a{{1,{MAX_REPEAT}}}, or a+ for any number",
                                  i)
    return None


def _unbalanced(text: str) -> Optional[int]:
    """The offset of the first ")" that closes nothing, else of the last "(" never closed."""
    opened: list[int] = []
    for i in _structure(text):
        if text[i] == "(":
            opened.append(i)
        elif text[i] == ")":
            if not opened:
                return i
            opened.pop()
    return opened[-1] if opened else None


@functools.lru_cache(maxsize=1024)
def _checked(text: str) -> tuple[Optional[LabelPattern], Optional[PatternProblem]]:
    if len(text) > MAX_PATTERN_LENGTH:
        return None, PatternProblem(f"is {len(text):,} characters long, over the limit of {MAX_PATTERN_LENGTH:,}",
                                    "a label pattern is a name or a few alternatives (binance|bybit)",
                                    MAX_PATTERN_LENGTH)
    over = _repeat_over_bound(text)
    if over is not None:
        return None, over
    _, problem = _re2_compile(text)  # alone first: a) or (?i without its ) cannot reach the anchors
    if problem is not None:
        return None, problem
    anchored, problem = _re2_compile(f"^(?:{text})$")
    if problem is not None:
        return None, PatternProblem(problem.message, problem.hint)
    return LabelPattern(text, anchored), None


def pattern_problem(text: str) -> Optional[PatternProblem]:
    """Why ``text`` cannot be a label pattern, or None."""
    return _checked(text)[1]


def compile_label_pattern(text: str) -> LabelPattern:
    """``text`` compiled as Alertmanager does, ``^(?:text)$`` in RE2; :class:`PatternError` says
    why not. Compiled patterns are kept (1,024 of them): a silence read back compiles nothing."""
    pattern, problem = _checked(text)
    if pattern is None:
        assert problem is not None
        raise PatternError(problem)
    return pattern


__all__ = ["LabelPattern", "MAX_MEM", "MAX_PATTERN_LENGTH", "MAX_REPEAT", "PatternError", "PatternProblem",
           "compile_label_pattern", "pattern_problem"]
