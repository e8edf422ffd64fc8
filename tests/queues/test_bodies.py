"""XML bodies: the plain-message fast path agrees with the full parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.queues import bodies
from ferry.queues.errors import InvalidXmlDocument


def parsed_by_parser(body: bytes) -> str | None:
    try:
        root = bodies._parse(body)
    except InvalidXmlDocument:
        return None
    element = root.find("MessageText") if root.tag == "QueueMessage" else None
    return None if element is None else element.text or ""


def outcome(body: bytes) -> str | None:
    try:
        return bodies.parse_message_text(body)
    except InvalidXmlDocument:
        return None


wrappers = st.sampled_from(
    [
        b"<QueueMessage><MessageText>%s</MessageText></QueueMessage>",
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b"<QueueMessage><MessageText>%s</MessageText></QueueMessage>",
        b'<?xml version="1.0"?><QueueMessage>\n  <MessageText>%s</MessageText>\n</QueueMessage>\n',
        b" <?xml version='1.0'?><QueueMessage><MessageText>%s</MessageText></QueueMessage>",
        b"<queuemessage><MessageText>%s</MessageText></queuemessage>",
        b"<?xml version='1.0' encoding='latin-1'?>"
        b"<QueueMessage><MessageText>%s</MessageText></QueueMessage>",
    ]
)


@given(wrapper=wrappers, text=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_fast_path_means_what_the_parser_means(wrapper: bytes, text: bytes) -> None:
    body = wrapper.replace(b"%s", text)
    assert outcome(body) == parsed_by_parser(body)


@pytest.mark.parametrize("text", ["", "plain", "a & b", "<tag>", "line\r\nbreak", "é🚀"])
def test_rendered_text_round_trips(text: str) -> None:
    from ferry.queues.models import Message

    rendered = bodies.render_messages(
        [Message("id", 0, 0, 0, 1, "r", text)], received=True
    ).encode()
    root = bodies._parse(rendered)
    assert root.findtext("QueueMessage/MessageText") == text
