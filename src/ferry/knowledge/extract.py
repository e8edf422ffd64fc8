"""Text out of an uploaded file, so that it can be chunked and indexed for file search.

The parser is chosen by the file name's extension, as the hosted service does: the bytes of an
upload are whatever the client sent, and sniffing content would make a file's fate depend on
guesses. Every failure, including whatever a third-party parser throws on hostile input, leaves
as an `ExtractionError` whose code is the one a vector-store file shows in `last_error`:
`unsupported_file` for an extension Ferry cannot read, `invalid_file` for anything else.

Text is decoded as UTF-8 (a byte-order mark is dropped) or as UTF-16 when a byte-order mark says
so. Nothing else is guessed: a cp1252 file silently read as such would index mojibake whenever the
guess is wrong, while an error tells the user to save the file as UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import TypeVar

import docx
from bs4 import BeautifulSoup, CData, Tag
from bs4.element import NavigableString, PageElement
from docx.table import Table
from pypdf import PasswordType, PdfReader

from ferry.knowledge.errors import INVALID_FILE, UNSUPPORTED_FILE, ExtractionError

__all__ = ["MAX_DOCX_UNCOMPRESSED_BYTES", "SUPPORTED_EXTENSIONS", "extract_text"]

MAX_DOCX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
"""A .docx expanding to more than this is refused: a few kilobytes of zip can claim gigabytes."""

_PLAIN_EXTENSIONS = frozenset(
    {".txt", ".md", ".markdown", ".rst", ".log"}
    | {".py", ".js", ".ts", ".java", ".c", ".cpp", ".cs", ".go", ".rb", ".php", ".sh"}
    | {".tex", ".css", ".xml", ".yaml", ".yml"}
)

# HTML elements that start a new line of text; inline ones (a, b, span...) run on.
# fmt: off
_HTML_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
    "td", "tfoot", "th", "thead", "title", "tr", "ul",
})
# fmt: on
_HTML_DROPPED = frozenset({"script", "style", "noscript", "template"})
_HTML_TEXT = (NavigableString, CData)  # not comments, doctypes or processing instructions
_HTML_SPACE = re.compile(r"\s+")

_Cell = TypeVar("_Cell")


def extract_text(data: bytes, filename: str) -> str:
    """The text of `data`, read as the type its `filename`'s extension names.

    Raises `ExtractionError` (`unsupported_file` or `invalid_file`) when there is no text to index.
    """
    extension = PurePosixPath(filename.strip()).suffix.lower()
    parser = _PARSERS.get(extension)
    if parser is None:
        kind = f"the extension {extension!r}" if extension else "no extension"
        raise ExtractionError(
            UNSUPPORTED_FILE,
            f"{filename!r} has {kind}, which Ferry cannot read; "
            f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}",
        )
    try:
        text = parser(data, filename)
    except ExtractionError:
        raise
    except Exception as exc:
        # Parsers of PDF, zip and XML raise whatever their input provokes (KeyError, struct.error,
        # RecursionError, ...); none of it may escape as a server error for a user's bad upload.
        raise ExtractionError(
            INVALID_FILE, f"{filename!r} is not a readable {extension} file: {_describe(exc)}"
        ) from exc
    if not text.strip():
        raise ExtractionError(INVALID_FILE, f"{filename!r} contains no text to index")
    return text


def _describe(exc: BaseException) -> str:
    detail = str(exc).strip() or type(exc).__name__
    return detail if len(detail) <= 200 else detail[:197] + "..."


def _decode(data: bytes, filename: str) -> str:
    """UTF-8 (with or without BOM) or BOM-marked UTF-16; NUL characters mean binary data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # consumes the BOM and honours its byte order
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ExtractionError(
            INVALID_FILE,
            f"{filename!r} is not valid {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text "
            f"(bad byte at offset {exc.start}); save it as UTF-8",
        ) from exc
    if "\x00" in text:
        # Valid UTF-8 can hold NULs, but text files do not: this is binary data, or UTF-16
        # without a BOM. (PostgreSQL's text type could not store it either.)
        raise ExtractionError(
            INVALID_FILE, f"{filename!r} contains NUL characters, so it is not a text file"
        )
    return text


def _plain(data: bytes, filename: str) -> str:
    return _decode(data, filename)


def _json(data: bytes, filename: str) -> str:
    """The document as written, once `json` accepts it.

    The original text is kept rather than pretty-printed: search results quote chunks back to
    the model and the user, and they should read as the author's file, not Ferry's reformatting.
    """
    text = _decode(data, filename)
    try:
        json.loads(text)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ExtractionError(INVALID_FILE, f"{filename!r} is not valid JSON: {exc}") from exc
    return text


def _delimited(delimiter: str, joiner: str) -> Callable[[bytes, str], str]:
    """A reader of CSV-like files: one line per row, quotes and escapes resolved by `csv`."""

    def read(data: bytes, filename: str) -> str:
        rows = csv.reader(io.StringIO(_decode(data, filename), newline=""), delimiter=delimiter)
        cells = ([cell.strip() for cell in row] for row in rows)
        return "\n".join(joiner.join(row) for row in cells if any(row))

    return read


def _html(data: bytes, filename: str) -> str:
    """Visible text, one line per block element; whitespace collapses as a browser would.

    The tree is walked with an explicit stack, never recursion or tree edits: both cost time
    or stack in proportion to nesting depth, and a hostile page nests tags 100,000 deep.
    """
    soup = BeautifulSoup(_decode(data, filename), "html.parser")
    blocks: list[str] = []
    line: list[str] = []
    stack: list[PageElement | None] = [soup]  # None marks the end of a block element
    while stack:
        node = stack.pop()
        if isinstance(node, Tag):
            if node.name in _HTML_DROPPED:
                continue
            if node.name in _HTML_BLOCKS:
                blocks.append("".join(line))
                line.clear()
                stack.append(None)
            stack.extend(reversed(node.contents))
        elif node is None:
            blocks.append("".join(line))
            line.clear()
        elif type(node) in _HTML_TEXT:
            line.append(node.get_text())
    blocks.append("".join(line))
    text = (_HTML_SPACE.sub(" ", block).strip() for block in blocks)
    return "\n".join(block for block in text if block)


def _pdf(data: bytes, filename: str) -> str:
    """The text layer of every page, pages separated by a blank line."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ExtractionError(
            INVALID_FILE, f"{filename!r} is encrypted with a password; upload it unencrypted"
        )
    pages = (page.extract_text().strip() for page in reader.pages)
    return "\n\n".join(page for page in pages if page).replace("\x00", "")


def _docx(data: bytes, filename: str) -> str:
    """Paragraphs and table rows in document order; a row's cells are joined by " | "."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        # zipfile stops each member at its declared size, so the declared sizes bound the work.
        expanded = sum(member.file_size for member in archive.infolist())
    if expanded > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise ExtractionError(
            INVALID_FILE,
            f"{filename!r} would expand to {expanded // (1024 * 1024)} MB, "
            f"more than the {MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB Ferry reads",
        )
    lines: list[str] = []
    for block in docx.Document(io.BytesIO(data)).iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [" ".join(cell.text.split()) for cell in _distinct(row.cells)]
                if any(cells):
                    lines.append(" | ".join(cells).rstrip())
        elif block.text.strip():
            lines.append(block.text)
    return "\n".join(lines).replace("\x00", "")


def _distinct(cells: Sequence[_Cell]) -> list[_Cell]:
    """A row's cells with a horizontally merged cell once (python-docx repeats it per column)."""
    return [cell for i, cell in enumerate(cells) if i == 0 or cell is not cells[i - 1]]


_PARSERS: dict[str, Callable[[bytes, str], str]] = {
    **dict.fromkeys(_PLAIN_EXTENSIONS, _plain),
    ".json": _json,
    ".csv": _delimited(",", ", "),
    ".tsv": _delimited("\t", "\t"),
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_PARSERS)
"""Lower-case extensions, with the dot, that `extract_text` reads."""
