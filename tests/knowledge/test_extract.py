"""Text extraction: each supported format read, and every bad upload refused with a wire code."""

from __future__ import annotations

import codecs
import io
import json
import random

import pytest

from ferry.knowledge import extract
from ferry.knowledge.errors import ExtractionError, KnowledgeError
from ferry.knowledge.extract import SUPPORTED_EXTENSIONS, extract_text


def make_pdf(*pages: str) -> bytes:
    """A minimal valid PDF, one page per string, drawn in the standard Helvetica font."""
    count = len(pages)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        content = f"BT /F1 24 Tf 72 720 Td ({escaped}) Tj ET".encode() if text else b""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def make_docx() -> bytes:
    from docx import Document

    document = Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Revenue"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "42"
    document.add_paragraph("Closing remarks.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def assert_refused(data: bytes, filename: str, code: str) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        extract_text(data, filename)
    assert caught.value.code == code
    assert filename in caught.value.message
    assert str(caught.value) == caught.value.message
    return caught.value


# Formats that are read


@pytest.mark.parametrize("name", ["notes.txt", "README.MD", "main.py", "conf.YAML", "x.tex"])
def test_plain_text_is_returned_as_decoded(name: str) -> None:
    assert extract_text("héllo wörld\n".encode(), name) == "héllo wörld\n"


def test_utf8_bom_is_dropped() -> None:
    assert extract_text(codecs.BOM_UTF8 + "café".encode(), "a.txt") == "café"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_decoded(encoding: str) -> None:
    bom = codecs.BOM_UTF16_LE if encoding == "utf-16-le" else codecs.BOM_UTF16_BE
    assert extract_text(bom + "naïve ✓".encode(encoding), "a.md") == "naïve ✓"


def test_json_is_validated_and_kept_as_written() -> None:
    source = '{"name": "Ferry",\n  "tags": ["a", "b"]}'
    assert extract_text(source.encode(), "data.json") == source


def test_csv_rows_become_lines_of_cells() -> None:
    source = 'name,city\r\n"Smith, Jane","New\nYork"\r\n\r\n,\r\nBob , Oslo\r\n'
    assert extract_text(source.encode(), "people.csv") == (
        "name, city\nSmith, Jane, New\nYork\nBob, Oslo"
    )


def test_tsv_keeps_tabs() -> None:
    assert extract_text(b"a\tb\n1\t2\n", "t.tsv") == "a\tb\n1\t2"


def test_html_keeps_visible_text_one_block_per_line() -> None:
    source = """<!doctype html><html><head><title>Doc</title>
    <style>body { color: red }</style><script>alert("x")</script></head>
    <body><h1>Heading</h1><p>Some <b>bold</b>
       text.</p><!-- a comment --><ul><li>one</li><li>two</li></ul>
    <noscript>enable js</noscript>line<br>break</body></html>"""
    assert extract_text(source.encode(), "page.HTM") == (
        "Doc\nHeading\nSome bold text.\none\ntwo\nline\nbreak"
    )


def test_deeply_nested_html_is_read_in_linear_time() -> None:
    # Given tags nested far deeper than Python's recursion limit, extraction still answers fast.
    depth = 20_000
    source = b"<div><b>" * depth + b"deep" + b"</b></div>" * depth + b"<p>after</p>"
    assert extract_text(source, "deep.html") == "deep\nafter"


def test_pdf_pages_are_joined_with_blank_lines() -> None:
    text = extract_text(make_pdf("Hello from Ferry", "Second (page)"), "doc.pdf")
    assert text == "Hello from Ferry\n\nSecond (page)"


def test_pdf_encrypted_with_empty_user_password_is_read() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Open secret"))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert extract_text(buffer.getvalue(), "doc.pdf") == "Open secret"


def test_pdf_encrypted_with_a_password_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Top secret"))))
    writer.encrypt(user_password="hunter2", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    error = assert_refused(buffer.getvalue(), "secret.pdf", "invalid_file")
    assert "password" in error.message


def test_docx_paragraphs_and_table_rows_in_order() -> None:
    assert extract_text(make_docx(), "report.docx") == (
        "Quarterly report\nRevenue grew in every region.\n"
        "Region | Revenue\nNorth | 42\nClosing remarks."
    )


def test_docx_merged_cells_are_read_once() -> None:
    from docx import Document

    document = Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Wide"
    table.cell(0, 2).text = "Wide"
    table.cell(1, 0).text = "0"
    table.cell(1, 1).text = "0"
    buffer = io.BytesIO()
    document.save(buffer)
    assert extract_text(buffer.getvalue(), "t.docx") == "Wide | Wide\n0 | 0 |"


def test_docx_expanding_past_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a limit below what an ordinary document expands to, the zip's sizes alone refuse it.
    monkeypatch.setattr(extract, "MAX_DOCX_UNCOMPRESSED_BYTES", 1000)
    error = assert_refused(make_docx(), "bomb.docx", "invalid_file")
    assert "expand" in error.message


def test_supported_extensions_are_lower_case_with_a_dot() -> None:
    assert {".pdf", ".docx", ".json", ".csv", ".html", ".md", ".txt"} <= SUPPORTED_EXTENSIONS
    assert all(ext.startswith(".") and ext == ext.lower() for ext in SUPPORTED_EXTENSIONS)


# Uploads that are refused


@pytest.mark.parametrize("name", ["setup.exe", "blob.bin", "archive.tar.gz", "Makefile", ""])
def test_unknown_extensions_are_unsupported(name: str) -> None:
    error = assert_refused(b"MZ\x90\x00", name, "unsupported_file")
    assert ".pdf" in error.message  # the message says what would have worked


@pytest.mark.parametrize("name", sorted(SUPPORTED_EXTENSIONS))
def test_zero_bytes_are_invalid_for_every_type(name: str) -> None:
    assert_refused(b"", f"empty{name}", "invalid_file")


@pytest.mark.parametrize("name", ["a.txt", "a.md", "a.html"])
def test_whitespace_only_text_has_nothing_to_index(name: str) -> None:
    error = assert_refused(b" \n\t\n", name, "invalid_file")
    assert "no text" in error.message


def test_pdf_without_a_text_layer_has_nothing_to_index() -> None:
    error = assert_refused(make_pdf(""), "scan.pdf", "invalid_file")
    assert "no text" in error.message


def test_latin1_text_is_not_guessed() -> None:
    error = assert_refused("café crème".encode("latin-1"), "old.txt", "invalid_file")
    assert "UTF-8" in error.message


def test_utf16_without_bom_is_refused_as_binary() -> None:
    error = assert_refused("plain".encode("utf-16-le"), "a.txt", "invalid_file")
    assert "NUL" in error.message


def test_invalid_json_is_refused() -> None:
    error = assert_refused(b'{"a": 1,', "broken.json", "invalid_file")
    assert "JSON" in error.message


def test_deeply_nested_json_is_refused_not_crashed() -> None:
    assert_refused(b"[" * 100_000 + b"]" * 100_000, "deep.json", "invalid_file")


def test_truncated_docx_is_refused() -> None:
    data = make_docx()
    assert_refused(data[: len(data) // 2], "cut.docx", "invalid_file")


def test_zip_that_is_not_a_word_document_is_refused() -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a document")
    assert_refused(buffer.getvalue(), "fake.docx", "invalid_file")


def test_truncated_pdf_is_refused() -> None:
    data = make_pdf("Hello")
    assert_refused(data[: len(data) // 3], "cut.pdf", "invalid_file")


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("extension", [".pdf", ".docx", ".json", ".html", ".csv", ".txt"])
def test_random_bytes_never_escape_as_other_errors(seed: int, extension: str) -> None:
    data = random.Random(seed).randbytes(2048)
    try:
        extract_text(data, "noise" + extension)
    except ExtractionError as error:
        assert error.code == "invalid_file"


@pytest.mark.parametrize("seed", range(30))
def test_corrupted_pdf_never_escapes_as_other_errors(seed: int) -> None:
    # Given a valid PDF with a few bytes flipped, parsing fails cleanly or yields text.
    rng = random.Random(seed)
    data = bytearray(make_pdf("Hello from Ferry", "again"))
    for _ in range(5):
        data[rng.randrange(len(data))] = rng.randrange(256)
    try:
        extract_text(bytes(data), "flipped.pdf")
    except ExtractionError as error:
        assert error.code == "invalid_file"


def test_extraction_error_is_a_knowledge_error_with_code_and_message() -> None:
    error = ExtractionError("invalid_file", "bad")
    assert isinstance(error, KnowledgeError)
    assert (error.code, error.message, str(error)) == ("invalid_file", "bad", "bad")
    assert json.dumps({"code": error.code, "message": error.message})
