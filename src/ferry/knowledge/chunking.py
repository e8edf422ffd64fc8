"""Cutting a file's text into overlapping chunks, as the hosted service's chunking strategies say.

`auto` means chunks of at most 800 tokens, each starting 400 tokens before the previous one
ends; `static` lets the client choose both numbers. Both are stored and rendered in the static
form, which is what the hosted service shows on a vector-store file.

Tokens are approximated. The service counts with a BPE tokenizer (cl100k), whose vocabulary
cannot be downloaded when Ferry runs offline, so a token here is a run of word characters or a
single punctuation character, and a word longer than 8 characters counts as one token per 4
characters, as BPE splits rare long words into pieces. For English prose this aims to land within
about a quarter of cl100k's count; it undercounts scripts written without spaces (a run of CJK
characters counts as one word). Chunk sizes are limits on this count, never on cl100k's.

A chunk prefers to end at a paragraph break, or failing that at a sentence or line end, when one
lies in the last 15% of its window; the next chunk then starts `overlap` tokens before that end,
so the overlap is exact and every token lands in some chunk.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass

from ferry.types import JSONObject

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_OVERLAP_TOKENS",
    "MAX_CHUNK_TOKENS",
    "MIN_CHUNK_TOKENS",
    "Chunk",
    "chunk_text",
    "count_tokens",
    "parse_strategy",
]

DEFAULT_MAX_TOKENS = 800
DEFAULT_OVERLAP_TOKENS = 400
MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096

_PIECE = re.compile(r"\w+|[^\w\s]")
_LONG_WORD = 8  # longer words count as one token per 4 characters
_WORD_PIECE = 4
_SNAP_SHARE = 0.15  # how far back from a window's end a chunk may end early at a boundary
_SENTENCE_END = frozenset(".!?")


@dataclass(frozen=True)
class Chunk:
    """A slice of the original text: `text == original[start:end]`, of `tokens` tokens."""

    index: int
    text: str
    start: int
    end: int
    tokens: int


def count_tokens(text: str) -> int:
    """The approximate number of tokens in `text` (see the module docstring)."""
    return sum(_weight(match.end() - match.start()) for match in _PIECE.finditer(text))


def chunk_text(
    text: str, max_tokens: int = DEFAULT_MAX_TOKENS, overlap: int = DEFAULT_OVERLAP_TOKENS
) -> list[Chunk]:
    """Overlapping chunks of at most `max_tokens` tokens covering every token of `text`.

    Chunks start and end on tokens, so none begins or ends with whitespace; whitespace-only
    text has no chunks.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap must be between 0 and max_tokens - 1, not {overlap}")
    starts, ends = _token_bounds(text)
    chunks: list[Chunk] = []
    first = 0
    while first < len(starts):
        last = min(first + max_tokens, len(starts))  # exclusive
        if last < len(starts):
            last = _snap(text, starts, ends, first, last, overlap)
        start, end = starts[first], ends[last - 1]
        chunks.append(Chunk(len(chunks), text[start:end], start, end, last - first))
        if last == len(starts):
            break
        first = last - overlap
    return chunks


def _weight(length: int) -> int:
    return 1 if length <= _LONG_WORD else -(-length // _WORD_PIECE)


def _token_bounds(text: str) -> tuple[array[int], array[int]]:
    """Where each token starts and ends; arrays, as a long file has millions of tokens."""
    starts, ends = array("q"), array("q")
    for match in _PIECE.finditer(text):
        start, end = match.span()
        if end - start <= _LONG_WORD:
            starts.append(start)
            ends.append(end)
        else:
            for piece in range(start, end, _WORD_PIECE):
                starts.append(piece)
                ends.append(min(end, piece + _WORD_PIECE))
    return starts, ends


def _snap(
    text: str, starts: array[int], ends: array[int], first: int, last: int, overlap: int
) -> int:
    """The exclusive end of a chunk from `first`: a paragraph or sentence end near `last`.

    Only ends that keep the chunk longer than `overlap` are considered, so the next chunk still
    starts after this one does.
    """
    earliest = max(first + overlap + 1, last - int((last - first) * _SNAP_SHARE))
    sentence = None
    for candidate in range(last, earliest - 1, -1):
        gap = text[ends[candidate - 1] : starts[candidate]]
        if gap.count("\n") >= 2:
            return candidate
        ends_sentence = gap and text[starts[candidate - 1]] in _SENTENCE_END
        if sentence is None and (ends_sentence or "\n" in gap):
            sentence = candidate
    return last if sentence is None else sentence


def parse_strategy(value: object) -> JSONObject:
    """A `chunking_strategy` request field in the stored static form; `ValueError` if invalid.

    `None` and `{"type": "auto"}` become the auto sizes; a static strategy is checked against
    the service's limits. The message names the offending field, for a 400 answer.
    """
    if value is None:
        return _static(DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS)
    if not isinstance(value, dict):
        raise ValueError("chunking_strategy must be an object with a 'type'")
    kind = value.get("type")
    if kind == "auto":
        _no_other_fields(value, {"type"}, "chunking_strategy")
        return _static(DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS)
    if kind != "static":
        raise ValueError(f"chunking_strategy.type must be 'auto' or 'static', not {kind!r}")
    _no_other_fields(value, {"type", "static"}, "chunking_strategy")
    static = value.get("static")
    if not isinstance(static, dict):
        raise ValueError("chunking_strategy.static must be an object for a static strategy")
    names = {"max_chunk_size_tokens", "chunk_overlap_tokens"}
    _no_other_fields(static, names, "chunking_strategy.static")
    size = _integer(static, "max_chunk_size_tokens")
    overlap = _integer(static, "chunk_overlap_tokens")
    if not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
        raise ValueError(
            f"chunking_strategy.static.max_chunk_size_tokens must be between "
            f"{MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS}, not {size}"
        )
    if not 0 <= overlap * 2 <= size:
        raise ValueError(
            f"chunking_strategy.static.chunk_overlap_tokens must be between 0 and half of "
            f"max_chunk_size_tokens ({size // 2}), not {overlap}"
        )
    return _static(size, overlap)


def _static(size: int, overlap: int) -> JSONObject:
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


def _no_other_fields(value: dict[object, object], allowed: set[str], where: str) -> None:
    unknown = sorted(repr(name) for name in value if name not in allowed)
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)}")


def _integer(static: dict[object, object], name: str) -> int:
    number = static.get(name)
    if number is None:
        raise ValueError(f"chunking_strategy.static.{name} is required")
    if isinstance(number, bool) or not isinstance(number, int):
        raise ValueError(f"chunking_strategy.static.{name} must be an integer, not {number!r}")
    return number
