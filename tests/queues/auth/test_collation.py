"""Ferry's header ordering against the SDK's, which imitates the service's collation."""

from __future__ import annotations

from functools import cmp_to_key

from azure.storage.queue._shared.authentication import compare
from hypothesis import given
from hypothesis import strategies as st

from ferry.queues.auth.collation import header_sort_key

# Header names: mostly letters, digits, hyphens and underscores, plus other printable ASCII.
names = st.text(alphabet=st.sampled_from("abcxyz019-_'.:!~ABZ"), max_size=8)


@given(st.lists(names, max_size=12))
def test_sorts_like_the_sdk(headers: list[str]) -> None:
    assert sorted(headers, key=header_sort_key) == sorted(headers, key=cmp_to_key(compare))


def test_hyphen_and_underscore_order_differs_from_plain_sorting() -> None:
    headers = ["x-ms-meta-a_b", "x-ms-meta-ab", "x-ms-meta-a-c", "x-ms-date"]
    ordered = sorted(headers, key=header_sort_key)
    assert ordered == sorted(headers, key=cmp_to_key(compare))
    assert ordered != sorted(headers)
