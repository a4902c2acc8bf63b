"""A small, safe markdown → HTML converter for the markdown runbooks and reports are written in.

It knows headings, paragraphs, lists (with ``[ ]`` / ``[x]`` check boxes, nested by
indentation), tables, fenced code, block quotes, rules, inline ``code``, ``**bold**`` and links
(``[text](url)`` and bare addresses, http and https only) — and nothing else: no raw HTML, no
images, no other scheme. Every character of the input is escaped before any tag is added, so
whatever an incident's data holds (a symbol, a reason, a template's output) comes out as text;
an address is escaped into its ``href``.

It sits below every layer that shows a runbook (the runbook pages of :mod:`killswitch.render`,
the runner's console) so that each renders the same markdown the same way.

Pure: no I/O. Must not: let any markup of its input through, or learn a construct whose output
it cannot escape.
"""

from __future__ import annotations

import html
import re

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


# --- inline ----------------------------------------------------------------------------------


def _text(text: str) -> str:
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
    return _Converter(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")).html()


class _Converter:
    """One conversion: the lines read block by block from ``i``, the HTML written to ``out``.
    Each block reader takes the block starting at the current line (and says True), or leaves
    it to the next; a line no reader takes is a paragraph's."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0
        self.out: list[str] = []
        self.para: list[str] = []
        self.lists: list[tuple[int, str]] = []  # open lists: (indent, "ul" | "ol")
        self.used: dict[str, int] = {}

    def html(self) -> str:
        blocks = (self._fence, self._blank, self._heading, self._rule, self._table, self._quote, self._item,
                  self._continuation)
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not any(block(line) for block in blocks):
                self.close_lists()
                self.para.append(line.strip())
                self.i += 1
        self.close_para()
        self.close_lists()
        return "\n".join(self.out) + "\n"

    def close_para(self) -> None:
        if self.para:
            self.out.append("<p>" + "\n".join(inline(x) for x in self.para) + "</p>")
            self.para.clear()

    def close_lists(self, to_indent: int = -1) -> None:
        while self.lists and self.lists[-1][0] > to_indent:
            self.out.append(f"</li></{self.lists.pop()[1]}>")

    def close_blocks(self) -> None:
        self.close_para()
        self.close_lists()

    def _fence(self, line: str) -> bool:
        fence = _FENCE.match(line)
        if not fence:
            return False
        self.close_blocks()
        marker, lang = fence.group(1), fence.group(2)
        lines, body = self.lines, []
        self.i += 1
        while self.i < len(lines) and not lines[self.i].strip().startswith(marker):
            body.append(lines[self.i])
            self.i += 1
        cls = f' class="language-{html.escape(lang)}"' if lang else ""
        self.out.append(f"<pre><code{cls}>" + html.escape("\n".join(body)) + "</code></pre>")
        self.i += 1
        return True

    def _blank(self, line: str) -> bool:
        if line.strip():
            return False
        self.close_para()
        # a blank line inside a list keeps it open when the next line continues it
        nxt = next((x for x in self.lines[self.i + 1:] if x.strip()), "")
        if self.lists and not (_ITEM.match(nxt) or (nxt[:1].isspace() and nxt.strip())):
            self.close_lists()
        self.i += 1
        return True

    def _heading(self, line: str) -> bool:
        heading = _HEADING.match(line)
        if not heading:
            return False
        self.close_blocks()
        level, title = len(heading.group(1)), heading.group(2)
        self.out.append(f'<h{level} id="{_slug(title, self.used)}">{inline(title)}</h{level}>')
        self.i += 1
        return True

    def _rule(self, line: str) -> bool:
        if not _RULE.match(line) or self.para:
            return False
        self.close_lists()
        self.out.append("<hr>")
        self.i += 1
        return True

    def _table(self, line: str) -> bool:
        lines = self.lines
        if not (line.lstrip().startswith("|") and self.i + 1 < len(lines) and _TABLE_SEP.match(lines[self.i + 1])):
            return False
        self.close_blocks()
        head = _cells(line)
        if any(head):
            self.out.append("<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                            + "</tr></thead><tbody>")
        else:  # a key/value table (``| | |``): no header row of empty cells
            self.out.append("<table><tbody>")
        self.i += 2
        while self.i < len(lines) and lines[self.i].lstrip().startswith("|"):
            cells = _cells(lines[self.i])
            cells += [""] * (len(head) - len(cells))
            self.out.append("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in cells[: len(head)]) + "</tr>")
            self.i += 1
        self.out.append("</tbody></table>")
        return True

    def _quote(self, line: str) -> bool:
        if not line.startswith(">"):
            return False
        self.close_blocks()
        lines, quote = self.lines, []
        while self.i < len(lines) and lines[self.i].startswith(">"):
            quote.append(re.sub(r"^>\s?", "", lines[self.i]))
            self.i += 1
        self.out.append("<blockquote>" + markdown_html("\n".join(quote)) + "</blockquote>")
        return True

    def _item(self, line: str) -> bool:
        item = _ITEM.match(line)
        if not item:
            return False
        self.close_para()
        self._open_item(len(item.group(1).expandtabs(4)), "ol" if item.group(2)[0].isdigit() else "ul")
        text = item.group(3)
        box = _BOX.match(text)
        if box:
            checked = " checked" if box.group(1) in "xX" else ""
            self.out.append(f'<li class="task"><input type="checkbox" disabled{checked}>{inline(box.group(2))}')
        else:
            self.out.append(f"<li>{inline(text)}")
        self.i += 1
        return True

    def _open_item(self, indent: int, kind: str) -> None:
        """Where an item at ``indent`` goes: a list nested in the open item, the next item of
        the open list, or a new list once the deeper ones are closed."""
        lists = self.lists
        if lists and indent > lists[-1][0]:
            self.out.append(f"<{kind}>")
            lists.append((indent, kind))
            return
        self.close_lists(indent)
        if lists and lists[-1][0] == indent and lists[-1][1] == kind:
            self.out.append("</li>")
        else:
            self.close_lists(indent - 1)
            self.out.append(f"<{kind}>")
            lists.append((indent, kind))

    def _continuation(self, line: str) -> bool:
        if not (self.lists and line[:1].isspace()):
            return False
        self.out.append(" " + inline(line.strip()))  # the continuation of a list item
        self.i += 1
        return True
