from __future__ import annotations

import pytest

from ferry.queues import receipts
from ferry.queues.errors import InvalidQueryParameterValue


def test_round_trip_and_shape() -> None:
    nonce = receipts.new_nonce()
    receipt = receipts.encode(nonce, 42)
    assert len(receipt) == 24  # 16 bytes in base64, like Azure's receipts
    assert receipts.decode(receipt) == (nonce, 42)


@pytest.mark.parametrize(
    "bad", ["", "abc", "not base64!", "AAAA", "A" * 24, "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
def test_malformed(bad: str) -> None:
    with pytest.raises(InvalidQueryParameterValue) as error:
        receipts.decode(bad)
    assert error.value.details["Reason"] == "Invalid pop receipt format"
