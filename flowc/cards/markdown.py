"""A small Markdown renderer (standard library only, so cards render in any task image).

Covers what card text uses: ATX headings, paragraphs, ``-``/``*``/``1.`` lists, fenced code
blocks, block quotes, horizontal rules, and inline code, bold, italic and links (``http(s)``,
``mailto`` and in-page ``#`` targets only). Everything else is shown as escaped text.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")
_ITALIC = re.compile(r"(?<![*\w])([*_])(?!\s)(.+?)(?<!\s)\1(?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SAFE_URL = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)


def inline(text: str) -> str:
    """Escape, then apply code spans first (their content stays literal), links, bold, italic."""
    pieces = re.split(r"(`[^`]+`)", text)
    out = []
    for piece in pieces:
        if _CODE.fullmatch(piece):
            out.append(f"<code>{html.escape(piece[1:-1])}</code>")
            continue
        escaped = html.escape(piece, quote=False)
        escaped = _LINK.sub(_link, escaped)
        escaped = _BOLD.sub(r"<strong>\2</strong>", escaped)
        escaped = _ITALIC.sub(r"<em>\2</em>", escaped)
        out.append(escaped)
    return "".join(out)


def _link(match: re.Match[str]) -> str:
    label, url = match.group(1), html.unescape(match.group(2))
    if not _SAFE_URL.match(url):
        return match.group(0)
    return f'<a href="{html.escape(url, quote=True)}">{label}</a>'


def markdown_to_html(text: str) -> str:
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{inline(' '.join(s.strip() for s in paragraph))}</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            flush()
            block = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif _RULE.match(line):
            flush()
            out.append("<hr>")
        elif _BULLET.match(line) or _NUMBERED.match(line):
            flush()
            tag, pattern = ("ul", _BULLET) if _BULLET.match(line) else ("ol", _NUMBERED)
            items = []
            while i < len(lines) and pattern.match(lines[i]):
                items.append(f"<li>{inline(pattern.match(lines[i]).group(1))}</li>")  # type: ignore[union-attr]
                i += 1
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        elif line.lstrip().startswith(">"):
            flush()
            quoted = []
            while i < len(lines) and lines[i].lstrip().startswith(">"):
                quoted.append(lines[i].lstrip()[1:].lstrip())
                i += 1
            out.append(f"<blockquote>{markdown_to_html(chr(10).join(quoted))}</blockquote>")
            continue
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return "\n".join(out)
