"""Runbook formats: a small, safe markdown → HTML converter, the HTML page around it, and the
built-in runbook used when no template can render an incident.

The converter knows the markdown runbooks are written in — headings, paragraphs, lists (with
``[ ]`` / ``[x]`` check boxes, nested by indentation), tables, fenced code, block quotes, rules,
inline ``code``, ``**bold**`` and links (``[text](url)`` and bare addresses, http and https
only) — and nothing else: no raw HTML, no images, no other scheme. Every character of the input
is escaped before any tag is added, so whatever an incident's data holds (a symbol, a reason, a
template's output) comes out as text; an address is escaped into its ``href``.

Pure: no I/O.
"""

from __future__ import annotations

import html
import re
from typing import Any, Optional

from ..sources import revision_text

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$")
_BOX = re.compile(r"^\[([ xX])\]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
# [label](http(s)://address) or a bare http(s)://address; nothing but http and https becomes a link
_LINK = re.compile(r"\[(?P<label>[^\[\]\n]+)\]\((?P<url>https?://[^\s()<>\"'`]+)\)"
                   r"|(?<![\w/\[(])(?P<bare>https?://[^\s<>\"'`()\[\]]+)", re.I)

STYLE = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:1.6em;border-bottom:2px solid #d0342c;padding-bottom:.3em}
h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;border-radius:4px}
code{padding:.1em .3em}pre{padding:10px 12px;overflow-x:auto}pre code{padding:0;background:none}
table{border-collapse:collapse;margin:.6em 0;max-width:100%}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td code{word-break:break-all}
th{background:#f6f8fa}blockquote{margin:.8em 0;padding:.4em 1em;border-left:4px solid #d0342c;background:#fff5f5}
li.task{list-style:none}li.task input{margin-right:.5em}
""".strip()


# --- inline ----------------------------------------------------------------------------------


def _text(text: str) -> str:
    """Escaped text with ``**bold**``."""
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text))


def _link(url: str, label: str) -> str:
    return f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">{label}</a>'


def _links(text: str) -> str:
    """Escaped text with ``[label](http(s)://…)`` and bare ``http(s)://…`` as links. Any other
    scheme (``javascript:``, ``data:``, ``file:``) stays text, as written."""
    out, at = [], 0
    for m in _LINK.finditer(text):
        out.append(_text(text[at:m.start()]))
        if m.group("url"):
            out.append(_link(m.group("url"), _text(m.group("label"))))
            at = m.end()
        else:
            url = m.group("bare").rstrip(".,;:!?")  # a sentence's full stop is not part of the address
            out.append(_link(url, html.escape(url)))
            at = m.start() + len(url)
    out.append(_text(text[at:]))
    return "".join(out)


def inline(text: str) -> str:
    """Escape ``text`` and turn ``code`` spans, ``**bold**`` and http(s) links into tags (nothing
    else)."""
    out = []
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick is a character, not a code span
        parts[-2] = parts[-2] + "`" + parts.pop()
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            out.append(_links(part))
    return "".join(out)


# --- blocks -----------------------------------------------------------------------------------


def _slug(text: str, used: dict[str, int]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    n = used.get(base, 0)
    used[base] = n + 1
    return base if n == 0 else f"{base}-{n}"


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = re.split(r"(?<!\\)\|", s)
    return [c.strip().replace("\\|", "|") for c in cells]


def markdown_html(text: str) -> str:
    """The HTML body of markdown ``text`` (see the module doc for what is understood)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    lists: list[tuple[int, str]] = []  # open lists: (indent, "ul" | "ol")
    used: dict[str, int] = {}
    i = 0

    def close_para() -> None:
        if para:
            out.append("<p>" + "\n".join(inline(x) for x in para) + "</p>")
            para.clear()

    def close_lists(to_indent: int = -1) -> None:
        while lists and lists[-1][0] > to_indent:
            out.append(f"</li></{lists.pop()[1]}>")

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            close_para()
            close_lists()
            marker, lang = fence.group(1), fence.group(2)
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            cls = f' class="language-{html.escape(lang)}"' if lang else ""
            out.append(f"<pre><code{cls}>" + html.escape("\n".join(body)) + "</code></pre>")
            i += 1
            continue
        if not line.strip():
            close_para()
            # a blank line inside a list keeps it open when the next line continues it
            nxt = next((x for x in lines[i + 1:] if x.strip()), "")
            if lists and not (_ITEM.match(nxt) or (nxt[:1].isspace() and nxt.strip())):
                close_lists()
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            close_para()
            close_lists()
            level, title = len(heading.group(1)), heading.group(2)
            out.append(f'<h{level} id="{_slug(title, used)}">{inline(title)}</h{level}>')
            i += 1
            continue
        if _RULE.match(line) and not para:
            close_lists()
            out.append("<hr>")
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            close_para()
            close_lists()
            head = _cells(line)
            if any(head):
                out.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                           + "</tr></thead><tbody>")
            else:  # a key/value table (``| | |``): no header row of empty cells
                out.append("<table><tbody>")
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                cells = _cells(lines[i])
                cells += [""] * (len(head) - len(cells))
                out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in cells[: len(head)]) + "</tr>")
                i += 1
            out.append("</tbody></table>")
            continue
        if line.startswith(">"):
            close_para()
            close_lists()
            quote = []
            while i < len(lines) and lines[i].startswith(">"):
                quote.append(re.sub(r"^>\s?", "", lines[i]))
                i += 1
            out.append("<blockquote>" + markdown_html("\n".join(quote)) + "</blockquote>")
            continue
        item = _ITEM.match(line)
        if item:
            close_para()
            indent = len(item.group(1).expandtabs(4))
            kind = "ol" if item.group(2)[0].isdigit() else "ul"
            if lists and indent > lists[-1][0]:
                out.append(f"<{kind}>")
                lists.append((indent, kind))
            else:
                close_lists(indent)
                if lists and lists[-1][0] == indent and lists[-1][1] == kind:
                    out.append("</li>")
                else:
                    close_lists(indent - 1)
                    out.append(f"<{kind}>")
                    lists.append((indent, kind))
            text = item.group(3)
            box = _BOX.match(text)
            if box:
                checked = " checked" if box.group(1) in "xX" else ""
                out.append(f'<li class="task"><input type="checkbox" disabled{checked}>{inline(box.group(2))}')
            else:
                out.append(f"<li>{inline(text)}")
            i += 1
            continue
        if lists and line[:1].isspace():
            out.append(" " + inline(line.strip()))  # the continuation of a list item
            i += 1
            continue
        close_lists()
        para.append(line.strip())
        i += 1
    close_para()
    close_lists()
    return "\n".join(out) + "\n"


def html_page(title: str, body: str) -> str:
    """A whole HTML document around ``body`` (already HTML); ``title`` is escaped."""
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<main>\n"
            f"{body}</main>\n</body>\n</html>\n")


def runbook_title(incident: dict) -> str:
    stage = incident.get("stage") or {}
    return (f"Runbook: {incident.get('policy', {}).get('name', '?')} {incident.get('scope', '?')} "
            f"stage {stage.get('level', '?')} {stage.get('name') or ''}").rstrip()


# --- the runbook without a template ------------------------------------------------------------


def _v(x: Any) -> str:
    return "-" if x is None else str(x)


def fallback_markdown(incident: dict, problems: Optional[list[str]] = None) -> str:
    """The runbook when no template could render the incident: the same facts, plainly.

    Written without a template engine on purpose: it must work when templates do not."""
    pol = incident.get("policy") or {}
    graph = incident.get("graph") or {}
    lock = incident.get("lock") or {}
    cmds = incident.get("commands") or {}
    acts = incident.get("actions") or {}
    out = [f"# {runbook_title(incident)}", ""]
    if problems:
        out += ["> The runbook template could not be used; this is the built-in runbook.", ">"]
        out += [f"> - `{p}`" for p in problems]
        out.append("")
    if incident.get("dry_run"):
        out += ["> **DRY RUN**: nothing was sent to any exchange.", ""]
    ack = incident.get("acknowledged")
    if ack:
        note = f": {ack.get('comment')}" if ack.get("comment") else ""
        out += [f"> **ACKNOWLEDGED** by {_v(ack.get('by'))} at {_v(ack.get('at'))}{note}", ""]
    out += [f"- incident: `{_v(incident.get('incident'))}`",
            f"- at: {_v(incident.get('created'))}",
            f"- policy: `{_v(pol.get('name'))}` (owner {_v(pol.get('owner'))}, {_v(pol.get('source'))})",
            f"- graph: `{_v(graph.get('digest'))}` revision `{revision_text(graph.get('revision'))}`",
            f"- reason: `{_v(incident.get('reason'))}`", "", "## What fired", ""]
    for t in incident.get("fired") or []:
        out.append(f"- trigger `{t.get('name')}`: `{t.get('when')}`")
        for c in t.get("checks") or []:
            out.append(f"  - `{c.get('signal')}` = {c.get('value_text')} ({c.get('op')} {c.get('threshold')})")
    out += ["", "## What was done", ""]
    for o in acts.get("orders") or []:
        out.append(f"- {o.get('side')} {o.get('amount')} {o.get('symbol')} on {o.get('venue')}/{o.get('account')}: "
                   f"**{o.get('status')}**" + (f" `{o.get('code')}`" if o.get("code") else ""))
    for d in acts.get("directives") or []:
        out.append(f"- {d.get('text')}")
    if not (acts.get("orders") or acts.get("directives")):
        out.append("- no order and no directive")
    out += ["", "## Positions left", ""]
    for p in incident.get("positions") or []:
        out.append(f"- {p.get('account')} {p.get('symbol')} {p.get('side')} {p.get('contracts')} "
                   f"(≈{p.get('notional_text')})")
    if not incident.get("positions"):
        out.append("- none in the last snapshot")
    out += ["", "## Trading lock", "",
            f"- {'LOCKED ' + str(lock.get('mode')) if lock.get('locked') else 'not locked'}: "
            f"`{_v(lock.get('reason'))}`",
            "", "## Commands", "", "```sh"]
    out += [cmd for k in ("status", "history", "audit_verify", "reset") if (cmd := cmds.get(k))]
    out += ["```", "", "## After closure", "",
            "- [ ] positions confirmed closed at the exchange", "- [ ] exchange reconciliation done",
            "- [ ] PnL recorded", "- [ ] notifications delivered", "- [ ] audit trail verified (`ksctl audit verify`)",
            "- [ ] root cause written down", "- [ ] resumption plan with reduced limits agreed", ""]
    return "\n".join(out)
