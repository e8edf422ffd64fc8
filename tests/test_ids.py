"""Object ids: the service's shape, and no repeats."""

from __future__ import annotations

import re

from ferry.ids import new_id


def test_ids_have_the_service_shape_and_do_not_repeat() -> None:
    ids = {new_id("run") for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"run_[A-Za-z0-9]{24}", i) for i in ids)
    # Every position takes many values (the digits are random, not padded).
    for position in range(4, 28):
        assert len({i[position] for i in ids}) > 40
