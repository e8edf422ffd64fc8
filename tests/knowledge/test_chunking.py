"""Chunking: the invariants search relies on, and the chunking_strategy a client may send."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.knowledge.chunking import Chunk, chunk_text, count_tokens, parse_strategy

AUTO = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}

# Text made of words, long words, punctuation and every kind of break, so boundaries get snapped.
_pieces = st.sampled_from(
    ["word", "a", "Ferry", "supercalifragilistic", "x" * 30, ".", ",", "!", "?", "é", "42",
     " ", " ", " ", "\n", "\n\n", "\t", "  "]
)  # fmt: skip
texts = st.lists(_pieces, max_size=400).map("".join) | st.text(max_size=300)


@st.composite
def sizes(draw: st.DrawFn) -> tuple[int, int]:
    max_tokens = draw(st.integers(1, 60))
    overlap = draw(st.integers(0, max_tokens - 1))
    return max_tokens, overlap


def token_spans(text: str) -> list[tuple[int, int]]:
    """Token spans of `text` as the chunker counts them, recovered from one-token chunks."""
    return [(chunk.start, chunk.end) for chunk in chunk_text(text, 1, 0)]


@settings(max_examples=300, deadline=None)
@given(texts, sizes())
def test_chunks_are_slices_within_the_token_limit(text: str, size: tuple[int, int]) -> None:
    max_tokens, overlap = size
    chunks = chunk_text(text, max_tokens, overlap)
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert chunk.text == text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text != ""
        assert 1 <= chunk.tokens <= max_tokens
        # Re-counting a slice never finds more tokens than the chunk was charged.
        assert count_tokens(chunk.text) <= chunk.tokens


@settings(max_examples=300, deadline=None)
@given(texts, sizes())
def test_every_token_is_covered_and_overlaps_are_exact(text: str, size: tuple[int, int]) -> None:
    max_tokens, overlap = size
    spans = token_spans(text)
    position = {start: i for i, (start, _) in enumerate(spans)}
    chunks = chunk_text(text, max_tokens, overlap)
    ranges = [(position[c.start], position[c.start] + c.tokens) for c in chunks]
    assert [spans[last - 1][1] for _, last in ranges] == [c.end for c in chunks]
    covered = set().union(*(range(first, last) for first, last in ranges))
    assert covered == set(range(len(spans)))
    for (first, last), (next_first, next_last) in zip(ranges, ranges[1:], strict=False):
        assert first < next_first and last < next_last  # always moving forward
        assert last - next_first == overlap
    if chunks:
        assert ranges[0][0] == 0 and ranges[-1][1] == len(spans)


@settings(max_examples=100, deadline=None)
@given(texts, sizes())
def test_chunking_is_deterministic(text: str, size: tuple[int, int]) -> None:
    assert chunk_text(text, *size) == chunk_text(text, *size)


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n"])
def test_whitespace_only_text_has_no_chunks(text: str) -> None:
    assert chunk_text(text) == []
    assert count_tokens(text) == 0


def test_token_approximation() -> None:
    # Given short words and punctuation, each is one token; a long word is one per 4 characters.
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("abcdefgh") == 1
    assert count_tokens("abcdefghi") == 3
    assert count_tokens("internationalization") == 5


def test_short_text_is_one_chunk_without_surrounding_whitespace() -> None:
    assert chunk_text("  Hello there.\n") == [Chunk(0, "Hello there.", 2, 14, 3)]


def test_windows_step_by_size_minus_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(10))
    chunks = chunk_text(text, max_tokens=4, overlap=1)
    assert [c.text for c in chunks] == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]


def test_chunk_prefers_to_end_at_a_paragraph_break() -> None:
    # Given a paragraph break 2 tokens before the window's end (within its last 15%), the chunk
    # ends there, and the next one starts `overlap` tokens before that end.
    first = " ".join(["a"] * 18)
    text = first + "\n\n" + " ".join(["b"] * 30)
    chunks = chunk_text(text, max_tokens=20, overlap=5)
    assert chunks[0].text == first
    assert chunks[1].text.startswith("a a a a a\n\nb")


def test_chunk_prefers_to_end_after_a_sentence() -> None:
    text = " ".join(["a"] * 17) + ". " + " ".join(["b"] * 30)
    assert chunk_text(text, max_tokens=20, overlap=0)[0].text.endswith("a a.")


def test_break_far_from_the_window_end_is_ignored() -> None:
    text = "a a.\n\n" + " ".join(["b"] * 40)
    assert chunk_text(text, max_tokens=20, overlap=0)[0].tokens == 20


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1), (5, 7)])
def test_impossible_sizes_are_rejected(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("some text", max_tokens, overlap)


def test_auto_sizes_on_a_long_document() -> None:
    text = "\n\n".join(f"Paragraph {i} has a few words in it." for i in range(400))
    chunks = chunk_text(text)
    assert len(chunks) > 5
    assert all(c.tokens <= 800 for c in chunks)
    assert all(c.text == text[c.start : c.end] for c in chunks)


# chunking_strategy


@pytest.mark.parametrize("value", [None, {"type": "auto"}])
def test_auto_is_stored_as_its_static_sizes(value: object) -> None:
    assert parse_strategy(value) == AUTO


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (100, 50), (4096, 2048), (512, 77)])
def test_static_within_limits_is_accepted(size: int, overlap: int) -> None:
    value = {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }
    assert parse_strategy(value) == value
    assert parse_strategy(parse_strategy(value)) == value


def static(**fields: Any) -> dict[str, Any]:
    return {"type": "static", "static": fields}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("auto", "chunking_strategy"),
        ([], "chunking_strategy"),
        ({}, "chunking_strategy.type"),
        ({"type": "other"}, "chunking_strategy.type"),
        ({"type": None}, "chunking_strategy.type"),
        ({"type": "auto", "static": {}}, "'static'"),
        ({"type": "static"}, "chunking_strategy.static"),
        ({"type": "static", "static": 800}, "chunking_strategy.static"),
        (static(max_chunk_size_tokens=800), "chunk_overlap_tokens"),
        (static(chunk_overlap_tokens=0), "max_chunk_size_tokens"),
        (static(max_chunk_size_tokens=99, chunk_overlap_tokens=0), "max_chunk_size_tokens"),
        (static(max_chunk_size_tokens=4097, chunk_overlap_tokens=0), "max_chunk_size_tokens"),
        (static(max_chunk_size_tokens=800, chunk_overlap_tokens=401), "chunk_overlap_tokens"),
        (static(max_chunk_size_tokens=801, chunk_overlap_tokens=401), "chunk_overlap_tokens"),
        (static(max_chunk_size_tokens=800, chunk_overlap_tokens=-1), "chunk_overlap_tokens"),
        (static(max_chunk_size_tokens=800.0, chunk_overlap_tokens=0), "max_chunk_size_tokens"),
        (static(max_chunk_size_tokens="800", chunk_overlap_tokens=0), "max_chunk_size_tokens"),
        (static(max_chunk_size_tokens=True, chunk_overlap_tokens=0), "max_chunk_size_tokens"),
        (static(max_chunk_size_tokens=800, chunk_overlap_tokens=0, x=1), "'x'"),
    ],
)
def test_invalid_strategies_name_the_bad_field(value: object, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        parse_strategy(value)
