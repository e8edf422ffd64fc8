"""Image content in classic messages: stored and shown as sent, refused by name by a model
that takes no images (the scripted rules here, like the embedded model), and bad parts
refused with a 400 before anything is stored."""

from __future__ import annotations

import pytest
from azure.ai.agents.models import (
    MessageImageUrlParam,
    MessageInputImageUrlBlock,
    MessageInputTextBlock,
)
from azure.core.exceptions import HttpResponseError

from tests.agents.conftest import Ferry

PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Bw"
    "HwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def test_an_image_is_kept_and_a_model_without_vision_fails_the_run_by_name(
    ferry: Ferry,
) -> None:
    client = ferry.agents()
    agent = client.create_agent(model="gpt-4o-mini", name="eyes")
    thread = client.threads.create()
    blocks = [
        MessageInputTextBlock(text="What is this?"),
        MessageInputImageUrlBlock(image_url=MessageImageUrlParam(url=PIXEL, detail="low")),
    ]
    message = client.messages.create(thread_id=thread.id, role="user", content=blocks)
    assert message.content[1].as_dict() == {
        "type": "image_url",
        "image_url": {"url": PIXEL, "detail": "low"},
    }
    run = client.runs.create_and_process(thread_id=thread.id, agent_id=agent.id)
    assert run.status == "failed"
    assert run.last_error["code"] == "invalid_request_error"
    assert "'gpt-4o-mini'" in run.last_error["message"]
    assert "does not accept images" in run.last_error["message"]


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}],
        [{"type": "image_url", "image_url": {"url": PIXEL, "detail": "huge"}}],
        [{"type": "image_file", "image_file": {}}],
        [{"type": "image_url"}],
        [{"type": "audio", "audio": {}}],
        [],
    ],
)
def test_bad_content_parts_get_400(ferry: Ferry, content: list[object]) -> None:
    client = ferry.agents()
    thread = client.threads.create()
    with pytest.raises(HttpResponseError) as caught:
        client.messages.create(thread_id=thread.id, body={"role": "user", "content": content})
    assert caught.value.status_code == 400
    assert list(client.messages.list(thread_id=thread.id)) == []
