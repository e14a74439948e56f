#!/usr/bin/python3
"""Generate tuneslotd.8 and tuneslotd.toml.5 from docs/tuneslotd.md.

    man-pages.py [--version 0.1.0] [--date YYYY-MM-DD] [--docdir DIR]
                 [--sysconfdir DIR] [--datadir DIR] SOURCE_MD OUTPUT_DIR

The man pages are made from the Markdown document we keep, never from a
second copy of it.  SECTIONS below says which `##` section of the document
goes to which page; a `##` section it does not name is an error, so a section
added to the document later is never dropped silently.  So is any Markdown the
converter below does not understand: the script stops with the file and line
and writes nothing rather than write a garbled page.

The date of the pages is --date, else the one of SOURCE_DATE_EPOCH (for
reproducible builds), else today's UTC date.

Standard library only; run it with Debian's /usr/bin/python3.
"""

import argparse
import datetime
import os
import re
import sys

PROG = "man-pages.py"

# The two pages: file name -> what goes into .TH and NAME.
PAGES = {
    "tuneslotd.8": {
        "title": "TUNESLOTD",
        "section": "8",
        "manual": "System Manager's Manual",
        "name": "tuneslotd",
        "whatis": "polls Icecast and SHOUTcast status pages and writes free "
                  "listener slots to Redis",
    },
    "tuneslotd.toml.5": {
        "title": "TUNESLOTD.TOML",
        "section": "5",
        "manual": "File Formats Manual",
        "name": "tuneslotd.toml",
        "whatis": "configuration file of tuneslotd",
    },
}

DAEMON = "tuneslotd.8"
CONFIG = "tuneslotd.toml.5"

# Which `##` section of docs/tuneslotd.md goes to which page, in the order of
# the document.  Keys are the headings as written in the document (compared
# case-insensitively).  A section named here but absent from the document is
# fine; a section of the document not named here is an error.
#   page:   the page the section goes to
#   title:  its .SH heading (default: the heading in capitals)
#   intro:  an .SH heading the text before the section's first `###` goes to
#           instead (merged with the page's DESCRIPTION when it is that)
#   synopsis: its first code block is the page's SYNOPSIS and is left out of
#           the section itself
#   required: the document must have the section
SECTIONS = {
    "Command line": {"page": DAEMON, "synopsis": True, "required": True},
    "Running several tuneslotd": {"page": DAEMON},
    "Running under systemd": {"page": DAEMON},
    "Metrics": {"page": DAEMON},
    "Status page": {"page": DAEMON},
    "Placement": {"page": DAEMON},
    "Configuration": {"page": CONFIG, "intro": "DESCRIPTION", "title": "KEYS",
                      "required": True},
    "Status formats": {"page": CONFIG},
    "What a round writes": {"page": DAEMON},
    "Log": {"page": DAEMON},
}

# the document's path in the source tree, which the pages name
SOURCE_NAME = "docs/tuneslotd.md"
# where the Debian package installs them (--sysconfdir, --datadir change them)
SYSCONFDIR = "/etc"
DATADIR = "/usr/share"


class DocError(Exception):
    """A problem with the Markdown document, at a line of it (1-based)."""

    def __init__(self, line, message):
        super().__init__(message)
        self.line = line
        self.message = message


# ---------------------------------------------------------------------------
# Markdown blocks
#
# The document is cut into blocks: ("heading", level, text), ("para", text),
# ("code", lines), ("list", [item text, ...]), ("table", header, rows).  Each
# block carries the line it starts at.  Inline markup stays in the text; it is
# parsed when the block is rendered.

class Block:
    def __init__(self, kind, line, **fields):
        self.kind = kind
        self.line = line
        self.__dict__.update(fields)


FENCE_RE = re.compile(r"^```([A-Za-z0-9_+-]*)\s*$")
HEADING_RE = re.compile(r"^(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
TABLE_SEP_RE = re.compile(r"^\|?(\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?\s*$")
BULLET_RE = re.compile(r"^- (.*)$")
UNSUPPORTED_BLOCKS = [
    (re.compile(r"^ {0,3}[*+] "), "'*' and '+' bullets are not supported; use '- '"),
    (re.compile(r"^ {0,3}\d+[.)] "), "ordered lists are not supported"),
    (re.compile(r"^ {0,3}>"), "block quotes are not supported"),
    (re.compile(r"^ {0,3}(~~~|````)"), "only ``` code fences are supported"),
    (re.compile(r"^ {0,3}<[A-Za-z/!]"), "raw HTML blocks are not supported"),
    (re.compile(r"^ {0,3}([-*_])( *\1){2,} *$"), "thematic breaks are not supported"),
    (re.compile(r"^ {0,3}(=+|-+) *$"), "setext headings are not supported; use '#'"),
]


def is_blank(line):
    return line.strip() == ""


def starts_block(lines, i):
    """Does lines[i] start a block that ends a paragraph or list item?"""
    line = lines[i]
    if HEADING_RE.match(line) or FENCE_RE.match(line) or BULLET_RE.match(line):
        return True
    if line.startswith("|") and i + 1 < len(lines) and TABLE_SEP_RE.match(lines[i + 1]):
        return True
    return False


def check_supported(line, lineno):
    for regex, why in UNSUPPORTED_BLOCKS:
        if regex.match(line):
            raise DocError(lineno, why + ": " + line.strip())


def split_row(line, lineno):
    """The cells of a table row; '|' inside a code span or escaped is kept."""
    s = line.strip()
    if not s.startswith("|") or not s.endswith("|") or len(s) < 2:
        raise DocError(lineno, "a table row must start and end with '|': " + s)
    s = s[1:-1]
    cells, cell, i = [], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            cell.append(s[i:i + 2])
            i += 2
            continue
        if c == "`":
            n = len(re.match(r"`+", s[i:]).group(0))
            close = re.compile(r"(?<!`)" + "`" * n + r"(?!`)").search(s, i + n)
            if close is None:
                raise DocError(lineno, "unclosed code span in a table cell")
            cell.append(s[i:close.end()])
            i = close.end()
            continue
        if c == "|":
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(c)
        i += 1
    cells.append("".join(cell).strip())
    # a cell's \| stands for a literal '|'
    return [c.replace("\\|", "|") for c in cells]


def parse_blocks(text):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        if "\t" in line:
            raise DocError(lineno, "tab characters are not supported; indent with spaces")
        if is_blank(line):
            i += 1
            continue

        m = HEADING_RE.match(line)
        if m:
            level, title = len(m.group(1)), (m.group(2) or "").strip()
            if level > 3:
                raise DocError(lineno, "headings deeper than ### are not supported")
            if not title:
                raise DocError(lineno, "empty heading")
            blocks.append(Block("heading", lineno, level=level, text=title))
            i += 1
            continue

        m = FENCE_RE.match(line)
        if m:
            body = []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise DocError(lineno, "code block opened here is never closed")
            i += 1
            blocks.append(Block("code", lineno, lines=body, lang=m.group(1)))
            continue

        if line.startswith("    "):
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or is_blank(lines[i])):
                body.append(lines[i][4:])
                i += 1
            while body and is_blank(body[-1]):
                body.pop()
            blocks.append(Block("code", lineno, lines=body, lang=""))
            continue

        if line.startswith("|"):
            if i + 1 >= len(lines) or not TABLE_SEP_RE.match(lines[i + 1]):
                raise DocError(lineno, "a table needs a '|---|' line under its header")
            header = split_row(line, lineno)
            if len(split_row(lines[i + 1], lineno + 1)) != len(header):
                raise DocError(lineno + 1, "the '|---|' line has another number of columns "
                               "than the header")
            if len(header) < 2:
                raise DocError(lineno, "a table needs at least two columns")
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                row = split_row(lines[i], i + 1)
                if len(row) != len(header):
                    raise DocError(i + 1, "this row has %d cells, the table's header %d"
                                   % (len(row), len(header)))
                if not row[0]:
                    raise DocError(i + 1, "a table row with an empty first cell")
                rows.append((i + 1, row))
                i += 1
            if not rows:
                raise DocError(lineno, "a table without rows")
            if i < len(lines) and not is_blank(lines[i]):
                raise DocError(i + 1, "a table must be followed by a blank line")
            blocks.append(Block("table", lineno, header=header, rows=rows))
            continue

        if BULLET_RE.match(line):
            items = []
            while i < len(lines):
                m = BULLET_RE.match(lines[i])
                if m:
                    items.append([m.group(1)])
                    i += 1
                elif is_blank(lines[i]):
                    # a blank line ends the list unless another item follows
                    j = i
                    while j < len(lines) and is_blank(lines[j]):
                        j += 1
                    if j < len(lines) and BULLET_RE.match(lines[j]):
                        i = j
                        continue
                    if j < len(lines) and lines[j].startswith("  "):
                        raise DocError(j + 1, "list items of more than one paragraph "
                                       "are not supported")
                    break
                elif starts_block(lines, i):
                    break
                else:
                    cont = lines[i]
                    if re.match(r"^\s+([-*+]|\d+[.)])\s", cont):
                        raise DocError(i + 1, "nested lists are not supported")
                    if re.match(r"^\s*```", cont):
                        raise DocError(i + 1, "code blocks inside list items are not supported")
                    items[-1].append(cont.strip())
                    i += 1
            blocks.append(Block("list", lineno, items=["\n".join(it) for it in items]))
            continue

        check_supported(line, lineno)
        para = [line.strip()]
        i += 1
        while i < len(lines) and not is_blank(lines[i]) and not starts_block(lines, i):
            if re.match(r"^ {0,3}(=+|-+) *$", lines[i]):
                raise DocError(i + 1, "setext headings are not supported; use '#'")
            if re.match(r"^ {0,3}(>|[*+] )", lines[i]):
                check_supported(lines[i], i + 1)
            para.append(lines[i].strip())
            i += 1
        if line.startswith("  ") and len(para) == 1 and blocks and blocks[-1].kind == "list":
            raise DocError(lineno, "list items of more than one paragraph are not supported")
        blocks.append(Block("para", lineno, text="\n".join(para)))
    return blocks


# ---------------------------------------------------------------------------
# Inline markup
#
# Parsed into nodes: ("text", s), ("code", s), ("strong", nodes), ("em", nodes),
# ("link", nodes, url), ("manref", name, section).

PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
HTML_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>")
ENTITY_RE = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


class Inline:
    def __init__(self, text, line):
        self.s = text
        self.line = line

    def error(self, pos, message):
        # the line of the document the position is on
        raise DocError(self.line + self.s.count("\n", 0, pos), message)

    def parse(self, pos=0, closer=None):
        s = self.s
        nodes = []
        buf = []

        def flush():
            if buf:
                nodes.append(("text", "".join(buf)))
                buf.clear()

        while pos < len(s):
            c = s[pos]
            if closer is not None and s.startswith(closer, pos) and \
                    (closer != "*" or not s.startswith("**", pos)) and \
                    pos > 0 and not s[pos - 1].isspace():
                flush()
                return nodes, pos + len(closer)
            if c == "\\" and pos + 1 < len(s):
                nxt = s[pos + 1]
                if nxt in PUNCT:
                    buf.append(nxt)
                    pos += 2
                    continue
                if nxt == "\n":
                    self.error(pos, "hard line breaks (a backslash at the end of a line) "
                               "are not supported")
                buf.append(c)
                pos += 1
                continue
            if c == "`":
                n = len(re.match(r"`+", s[pos:]).group(0))
                close = re.compile(r"(?<!`)" + "`" * n + r"(?!`)").search(s, pos + n)
                if close is None:
                    self.error(pos, "unclosed code span")
                code = s[pos + n:close.start()].replace("\n", " ")
                if len(code) > 1 and code[0] == " " and code[-1] == " " and code.strip():
                    code = code[1:-1]
                flush()
                nodes.append(("code", code))
                pos = close.end()
                continue
            if s.startswith("**", pos) and pos + 2 < len(s) and not s[pos + 2].isspace():
                flush()
                inner, end = self.parse(pos + 2, "**")
                if end is None:
                    self.error(pos, "unclosed **bold**")
                nodes.append(("strong", inner))
                pos = end
                continue
            if c == "*" and pos + 1 < len(s) and not s[pos + 1].isspace():
                flush()
                inner, end = self.parse(pos + 1, "*")
                if end is None:
                    self.error(pos, "unclosed *italic*")
                nodes.append(("em", inner))
                pos = end
                continue
            if c == "_" and (pos == 0 or not s[pos - 1].isalnum()) and \
                    pos + 1 < len(s) and not s[pos + 1].isspace():
                self.error(pos, "'_' emphasis is not supported (use *italic*, or a "
                           "code span or \\_ for a literal '_')")
            if c == "[":
                link = self.parse_link(pos)
                if link is not None:
                    flush()
                    node, pos = link
                    nodes.append(node)
                    continue
            if c == "<":
                m = HTML_TAG_RE.match(s, pos)
                if m or s.startswith("<http", pos):
                    self.error(pos, "raw HTML and <autolinks> are not supported: "
                               + s[pos:pos + 20])
            if c == "&" and ENTITY_RE.match(s, pos):
                self.error(pos, "HTML entities are not supported; write the character")
            buf.append(c)
            pos += 1
        flush()
        if closer is not None:
            return nodes, None
        return nodes, pos

    def parse_link(self, pos):
        """[text](url) at pos, or None when it is not a link."""
        s = self.s
        depth, j = 0, pos
        while j < len(s):
            if s[j] == "\\":
                j += 2
                continue
            if s[j] == "`":
                n = len(re.match(r"`+", s[j:]).group(0))
                close = re.compile(r"(?<!`)" + "`" * n + r"(?!`)").search(s, j + n)
                j = close.end() if close else j + n
                continue
            if s[j] == "[":
                depth += 1
            elif s[j] == "]":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(s) or not s.startswith("](", j):
            return None
        end = s.find(")", j + 2)
        if end < 0:
            self.error(pos, "unclosed link target")
        url = s[j + 2:end].strip()
        if not url or re.search(r"\s", url):
            self.error(pos, "a link target with spaces or a title is not supported")
        inner = Inline(s[pos + 1:j], self.line + s.count("\n", 0, pos + 1))
        nodes, _ = inner.parse()
        return ("link", nodes, url), end + 1


def parse_inline(text, line):
    nodes, _ = Inline(text, line).parse()
    return nodes


def plain(nodes):
    """The text of inline nodes without markup."""
    out = []
    for node in nodes:
        if node[0] in ("text", "code"):
            out.append(node[1])
        elif node[0] in ("strong", "em"):
            out.append(plain(node[1]))
        elif node[0] == "link":
            out.append(plain(node[1]))
        elif node[0] == "manref":
            out.append("%s(%s)" % (node[1], node[2]))
    return "".join(out)


# ---------------------------------------------------------------------------
# roff

def roff_char(c, code):
    if c == "\\":
        return "\\e"
    if c == "-":
        return "\\-" if code else "-"
    if code and c == "'":
        return "\\(aq"
    if c == "`":
        return "\\(ga"
    if c == "^":
        return "\\(ha"
    if c == "~":
        return "\\(ti"
    return c


def roff_code(s):
    """Literal text: its dashes are minus signs, its quotes straight."""
    return "".join(roff_char(c, True) for c in s)


OPTION_DASH_RE = re.compile(r"(?:(?<=^)|(?<=[\s(\[/]))(--?)(?=[A-Za-z0-9])")


def roff_text(s):
    """Prose: a dash that starts an option-like word is a minus."""
    out = []
    last = 0
    for m in OPTION_DASH_RE.finditer(s):
        out.extend(roff_char(c, False) for c in s[last:m.start()])
        out.append("\\-" * len(m.group(1)))
        last = m.end()
    out.extend(roff_char(c, False) for c in s[last:])
    return "".join(out)


def render_inline(nodes, font="R"):
    out = []
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(roff_text(node[1]))
        elif kind == "code":
            out.append("\\fB" + roff_code(node[1]) + "\\f" + font)
        elif kind == "strong":
            out.append("\\fB" + render_inline(node[1], "B") + "\\f" + font)
        elif kind == "em":
            inner = "B" if font == "B" else "I"
            out.append("\\f" + inner + render_inline(node[1], inner) + "\\f" + font)
        elif kind == "link":
            out.append(render_inline(node[1], font))
            url = node[2]
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url):
                out.append(" <" + roff_code(url) + ">")
        elif kind == "manref":
            out.append("\\fB" + roff_code(node[1]) + "\\f" + font + "(" + node[2] + ")")
    return "".join(out)


def text_lines(rendered):
    """Roff text lines from rendered inline text: no leading spaces (a break
    in roff), a control character at the start of a line escaped."""
    lines = []
    for line in rendered.split("\n"):
        line = line.strip()
        if not line:
            continue
        if line[0] in ".'":
            line = "\\&" + line
        lines.append(line)
    return lines


def one_line(rendered):
    lines = text_lines(rendered)
    return " ".join(lines)


def code_line(line):
    out = "".join(roff_char(c, True) for c in line.rstrip())
    if out[:1] in (".", "'"):
        out = "\\&" + out
    return out


def heading_arg(nodes, upper=False):
    """The argument of .SH or .SS: the heading's words, in capitals for .SH
    (but for code), without font changes (the macro makes it bold)."""
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(roff_text(node[1].upper() if upper else node[1]))
        elif node[0] == "code":
            out.append(roff_code(node[1]))
        elif node[0] in ("strong", "em", "link"):
            out.append(heading_arg(node[1], upper)[1:-1])
        else:
            raise AssertionError(node[0])
    return macro_arg("".join(out))


def macro_arg(s):
    """A macro argument: quoted, with its quotes as \\(dq."""
    return '"' + s.replace('"', "\\(dq") + '"'


class Renderer:
    """Renders the blocks of one page; xrefs maps a heading of the document
    that is on the other page to that page, for quoted cross-references."""

    def __init__(self, xrefs):
        self.xrefs = xrefs

    def inline(self, text, line):
        nodes = parse_inline(text, line)
        return render_inline(self.add_xrefs(nodes))

    def add_xrefs(self, nodes):
        """"Metrics" naming a section of the other page gains "in tuneslotd(8)"."""
        out = []
        for node in nodes:
            if node[0] == "text" and '"' in node[1]:
                s, last = node[1], 0
                for m in re.finditer(r'"([^"]+)"', s):
                    title = " ".join(m.group(1).split()).lower()
                    if title in self.xrefs:
                        name, sec = self.xrefs[title]
                        out.append(("text", s[last:m.end()] + " in "))
                        out.append(("manref", name, sec))
                        last = m.end()
                out.append(("text", s[last:]))
            elif node[0] in ("strong", "em"):
                out.append((node[0], self.add_xrefs(node[1])))
            else:
                out.append(node)
        return out

    def block(self, b):
        if b.kind == "para":
            return [".PP"] + text_lines(self.inline(b.text, b.line))
        if b.kind == "code":
            return self.code(b)
        if b.kind == "list":
            out = []
            for item in b.items:
                out.append(".IP \\(bu 2")
                out.extend(text_lines(self.inline(item, b.line)))
            return out
        if b.kind == "table":
            return self.table(b)
        if b.kind == "heading":
            if b.level != 3:
                raise DocError(b.line, "a level %d heading here is not expected" % b.level)
            return [".SS " + heading_arg(parse_inline(b.text, b.line))]
        raise AssertionError(b.kind)

    def code(self, b):
        if not b.lines:
            raise DocError(b.line, "an empty code block")
        # .nf, not .EX: .EE would turn hyphenation back on
        return [".PP", ".RS 4", ".nf"] + [code_line(l) for l in b.lines] + [".fi", ".RE"]

    def cell(self, text, line):
        return one_line(self.inline(text, line))

    def table(self, b):
        header = b.header
        out = []
        if not any(header):
            # key/value table (Syntax, Type, Default, Section): one compact
            # line per row, the values lined up after the longest key
            if len(header) != 2:
                raise DocError(b.line, "a table with an empty header must have two columns")
            keys = [plain(parse_inline(row[0], line)) for line, row in b.rows]
            width = min(max(len(k) for k in keys) + 2, 20)
            out += [".PP", ".PD 0"]
            for n, (line, row) in enumerate(b.rows):
                out.append(".TP" + (" %dn" % width if n == 0 else ""))
                out.append(self.cell(row[0], line) + ":")
                out.append(self.cell(row[1], line))
            out.append(".PD")
            return out
        if not all(header):
            raise DocError(b.line, "a table header with some cells empty (only all empty, "
                           "for a key/value table, is supported)")
        names = [plain(parse_inline(h, b.line)) for h in header]
        names = [n[:1].upper() + n[1:] for n in names]
        for line, row in b.rows:
            out.append(".TP")
            out.append(self.cell(row[0], line))
            if len(header) == 2:
                out.append(self.cell(row[1], line))
                continue
            # three or more columns: the other cells as "Header: value" lines
            body = []
            for name, value in zip(names[1:], row[1:]):
                if value:
                    body.append(roff_text(name) + ": " + self.cell(value, line))
            out.append("\n.br\n".join(body) if body else "")
        return [l for l in "\n".join(out).split("\n") if l != ""]


# ---------------------------------------------------------------------------
# The document and the pages

def split_sections(blocks):
    """The intro (blocks after the # heading and before the first ##) and the
    ## sections: [(title, line, [blocks])]."""
    if not blocks or blocks[0].kind != "heading" or blocks[0].level != 1:
        raise DocError(blocks[0].line if blocks else 1,
                       "the document must start with a '# ' heading")
    intro, sections = [], []
    for b in blocks[1:]:
        if b.kind == "heading" and b.level == 1:
            raise DocError(b.line, "only one '# ' heading is supported")
        if b.kind == "heading" and b.level == 2:
            sections.append((b.text, b.line, []))
        elif sections:
            sections[-1][2].append(b)
        else:
            if b.kind == "heading":
                raise DocError(b.line, "a '###' heading before the first '##' section")
            intro.append(b)
    return intro, sections


def assign(sections):
    table = {k.lower(): (k, v) for k, v in SECTIONS.items()}
    unassigned = [(t, l) for t, l, _ in sections if t.lower() not in table]
    if unassigned:
        names = ", ".join('"## %s" (line %d)' % (t, l) for t, l in unassigned)
        raise DocError(unassigned[0][1],
                       "%s %s %s not assigned to a man page: add %s to SECTIONS in "
                       "scripts/man-pages.py" %
                       ("section" if len(unassigned) == 1 else "sections", names,
                        "is" if len(unassigned) == 1 else "are",
                        "it" if len(unassigned) == 1 else "them"))
    seen = {}
    for title, line, _ in sections:
        if title.lower() in seen:
            raise DocError(line, 'section "## %s" appears twice (line %d)'
                           % (title, seen[title.lower()]))
        seen[title.lower()] = line
    for key, spec in SECTIONS.items():
        if spec.get("required") and key.lower() not in seen:
            raise DocError(1, 'the document has no "## %s" section, which the man pages need'
                           % key)
    return {t: table[t.lower()][1] for t, _, _ in sections}


def synopsis_lines(code):
    """A SYNOPSIS line: the command and its literal words and options bold,
    CAPITALS and other placeholders italic, brackets roman."""
    out = []
    for line in code.lines:
        words = []
        for n, word in enumerate(line.split()):
            parts = re.split(r"([\[\]|]|\.\.\.)", word)
            rendered = []
            for p in parts:
                if not p:
                    continue
                if p in ("[", "]", "|", "..."):
                    rendered.append(p)
                elif re.match(r"^--?[A-Za-z0-9][A-Za-z0-9-]*(=.*)?$", p) or \
                        re.match(r"^[a-z][a-z0-9_.-]*$", p):
                    rendered.append("\\fB" + roff_code(p) + "\\fR")
                else:
                    rendered.append("\\fI" + roff_code(p) + "\\fR")
            words.append("".join(rendered))
        if words:
            out.append(" ".join(words))
    return out


def doc_paths(markdown):
    """Repository-relative paths of documents (`dir/name.md`) a text names."""
    found = []
    for m in re.finditer(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\.md)`", markdown):
        if m.group(1) not in found:
            found.append(m.group(1))
    return found


def build(source_text, source_name, version, date, docdir, sysconfdir=SYSCONFDIR, datadir=DATADIR):
    config_file = sysconfdir.rstrip("/") + "/tuneslot/tuneslotd.toml"
    load_xsl = datadir.rstrip("/") + "/tuneslot/load.xsl"
    blocks = parse_blocks(source_text)
    intro, sections = split_sections(blocks)
    if not intro:
        raise DocError(1, "no introduction before the first '##' section (the DESCRIPTION "
                       "of tuneslotd.8)")
    placement = assign(sections)
    src_lines = source_text.split("\n")

    # headings by page, for cross-references between the pages
    where = {}
    for title, line, body in sections:
        page = placement[title]["page"]
        where[title.lower()] = page
        for b in body:
            # only headings in words: `redis` in quotes is not a reference
            if b.kind == "heading" and all(n[0] == "text" for n in parse_inline(b.text, b.line)):
                where[plain(parse_inline(b.text, b.line)).lower()] = page
    xrefs = {}
    for page in PAGES:
        xrefs[page] = {t: (PAGES[p]["name"], PAGES[p]["section"])
                       for t, p in where.items() if p != page}

    content = {page: [] for page in PAGES}      # .SH sections after DESCRIPTION
    description = {page: [] for page in PAGES}  # DESCRIPTION body
    synopsis = {page: None for page in PAGES}
    markdown = {page: [] for page in PAGES}     # the Markdown each page uses

    r8 = Renderer(xrefs[DAEMON])
    for b in intro:
        description[DAEMON] += r8.block(b)
    first_section_line = sections[0][1] if sections else len(src_lines) + 1
    markdown[DAEMON].append("\n".join(src_lines[:first_section_line - 1]))

    for n, (title, line, body) in enumerate(sections):
        spec = placement[title]
        page = spec["page"]
        r = Renderer(xrefs[page])
        end = sections[n + 1][1] - 1 if n + 1 < len(sections) else len(src_lines)
        markdown[page].append("\n".join(src_lines[line - 1:end]))
        body = list(body)
        if spec.get("synopsis"):
            first = next((b for b in body if b.kind in ("code", "heading")), None)
            if first is None or first.kind != "code":
                raise DocError(line, '"## %s" must have a code block (the SYNOPSIS) before '
                               "its first '###'" % title)
            if synopsis[page] is not None:
                raise DocError(line, "a second SYNOPSIS for %s" % page)
            synopsis[page] = synopsis_lines(first)
            body.remove(first)
        intro_title = spec.get("intro")
        if intro_title:
            k = next((i for i, b in enumerate(body) if b.kind == "heading"), len(body))
            head, body = body[:k], body[k:]
            target = description[page] if intro_title == "DESCRIPTION" else content[page]
            if intro_title != "DESCRIPTION":
                target += [".SH " + macro_arg(intro_title)]
            for b in head:
                target += r.block(b)
        sh = spec.get("title")
        if sh:
            content[page] += [".SH " + macro_arg(sh)]
        else:
            nodes = parse_inline(title, line)
            content[page] += [".SH " + heading_arg(nodes, upper=True)]
        for b in body:
            content[page] += r.block(b)

    if synopsis[DAEMON] is None:
        raise DocError(1, "no SYNOPSIS found for tuneslotd.8")

    docs = {page: doc_paths("\n".join(md)) for page, md in markdown.items()}

    pages = {}
    for page, meta in PAGES.items():
        out = [
            '.\\" Generated by scripts/man-pages.py from %s; edit that file, not this one.'
            % source_name,
            ".TH %s %s %s %s %s" % (meta["title"], meta["section"], macro_arg(date),
                                    macro_arg("tuneslot " + version if version else "tuneslot"),
                                    macro_arg(meta["manual"])),
            # no hyphenation (it would split option and key names) and no
            # justification (long literals would leave wide gaps)
            ".nh",
            ".ad l",
            ".SH NAME",
            "%s \\- %s" % (roff_code(meta["name"]),
                           roff_text(meta["whatis"])),
            ".SH SYNOPSIS",
        ]
        if page == DAEMON:
            out += [".nf"] + synopsis[page] + [".fi"]
        else:
            out += [".I " + roff_code(config_file)]
        out.append(".SH DESCRIPTION")
        if page == CONFIG:
            out += [".PP",
                    "\\fBtuneslotd\\fR(8) reads its configuration from the file given with",
                    "\\fB\\-c\\fR, by convention \\fI%s\\fR." % roff_code(config_file)]
        out += description[page]
        out += content[page]

        out.append(".SH FILES")
        out += [".TP", "\\fI%s\\fR" % roff_code(config_file)]
        if page == DAEMON:
            out += ["The configuration file, given with \\fB\\-c\\fR; see "
                    "\\fBtuneslotd.toml\\fR(5).",
                    ".TP", "\\fI%s\\fR" % roff_code(load_xsl),
                    "The status page for Icecast's web root that the \\fBload\\-xsl\\fR "
                    "format reads; see \\fBtuneslotd.toml\\fR(5)."]
        else:
            out += ["The configuration file of \\fBtuneslotd\\fR(8), read at start and "
                    "on \\fBSIGHUP\\fR."]

        out.append(".SH \"SEE ALSO\"")
        other = [p for p in PAGES if p != page]
        out.append(",\n".join(".BR %s (%s)" % (PAGES[p]["name"], PAGES[p]["section"])
                              for p in other))
        # the documents the page names by their path in the source tree,
        # where the packages install them
        paths = [source_name] + [p for p in docs[page] if p != source_name]
        example = paths[1] if len(paths) > 1 else paths[0]
        out += [".PP",
                "This page is made from \\fI%s\\fR." % roff_code(source_name),
                "Paths like \\fI%s\\fR in this page are relative to tuneslot's source tree;"
                % roff_code(example),
                "the packages install the documents it names under \\fI%s\\fR"
                % roff_code(docdir),
                "with the same relative paths (the Debian package compresses the larger ones:",
                "read \\fI.md.gz\\fR files with \\fBzless\\fR):",
                ".PP", ".PD 0"]
        for p in paths:
            out += [".IP \\(bu 2", "\\fI%s\\fR" % roff_code(docdir.rstrip("/") + "/" + p)]
        out += [".PD"]
        pages[page] = "\n".join(out) + "\n"
    return pages


def page_date(arg):
    if arg:
        try:
            datetime.date.fromisoformat(arg)
        except ValueError:
            raise SystemExit("%s: --date %r is not YYYY-MM-DD" % (PROG, arg))
        return arg
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise SystemExit("%s: SOURCE_DATE_EPOCH=%r is not a number of seconds"
                             % (PROG, epoch))
    else:
        when = datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y-%m-%d")


def main():
    ap = argparse.ArgumentParser(
        prog=PROG, description="Make tuneslotd.8 and tuneslotd.toml.5 from docs/tuneslotd.md.")
    ap.add_argument("--version", default="", help="tuneslot's version, for the page footers")
    ap.add_argument("--date", default="",
                    help="YYYY-MM-DD (default: SOURCE_DATE_EPOCH's, else today's UTC date)")
    ap.add_argument("--sysconfdir", default=SYSCONFDIR,
                    help="where the configuration directory tuneslot/ is (default %(default)s)")
    ap.add_argument("--datadir", default=DATADIR,
                    help="where the data directory tuneslot/ is (default %(default)s)")
    ap.add_argument("--docdir", default="/usr/share/doc/tuneslotd",
                    help="where the packages install the documentation (default: %(default)s)")
    ap.add_argument("source", metavar="SOURCE_MD")
    ap.add_argument("outdir", metavar="OUTPUT_DIR")
    args = ap.parse_args()

    date = page_date(args.date)
    if not re.match(r"^[0-9A-Za-z.+~-]*$", args.version):
        ap.error("--version %r has characters other than letters, digits and .+~-"
                 % args.version)
    try:
        with open(args.source, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print("%s: %s: %s" % (PROG, args.source, e), file=sys.stderr)
        return 1
    try:
        pages = build(text, SOURCE_NAME, args.version, date, args.docdir, args.sysconfdir, args.datadir)
    except DocError as e:
        print("%s: %s:%d: %s" % (PROG, args.source, e.line, e.message), file=sys.stderr)
        print("%s: no man page written" % PROG, file=sys.stderr)
        return 1

    os.makedirs(args.outdir, exist_ok=True)
    for name, body in pages.items():
        path = os.path.join(args.outdir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
