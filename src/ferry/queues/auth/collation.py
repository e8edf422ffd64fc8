"""The order in which SharedKey lists `x-ms-*` headers in the string to sign.

The service sorts header names with a culture-aware collation, and the SDK imitates it, so
plain string order would reject valid signatures. The rule, as a sort key:

1. Compare the names case-insensitively by the characters that carry weight, in the order
   `ALPHABET` below; hyphens, apostrophes and all other characters are skipped at this level.
2. If that ties, walk both names in step and compare character classes: an ordinary
   character < end of name < apostrophe < hyphen; the first difference decides.
"""

from __future__ import annotations

__all__ = ["ALPHABET", "header_sort_key"]

ALPHABET = "!#$%&*.^_`|~+0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {char: rank for rank, char in enumerate(ALPHABET, start=1)}
_PRIMARY.update({char.upper(): rank for char, rank in list(_PRIMARY.items()) if char.isalpha()})
_SECONDARY = {"'": 2, "-": 3}
_END = 1


def header_sort_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    primary = tuple(_PRIMARY[c] for c in name if c in _PRIMARY)
    secondary = (*(_SECONDARY.get(c, 0) for c in name), _END)
    return primary, secondary
