"""ChatML, the turn format SmolLM2 was tuned on (`<|im_start|>role\\n…<|im_end|>`).

The embedded backend writes prompts itself instead of going through llama.cpp's chat
handlers: it needs to end a prompt part-way into the assistant's turn (`{"tool": "`) to score
what comes next, which a chat API cannot express.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["END", "Turn", "render"]

START = "<|im_start|>"
END = "<|im_end|>"

Turn = tuple[str, str]
"""(role, text)."""


def render(turns: Sequence[Turn], *, reply: str | None = "", role: str = "assistant") -> str:
    """`turns` in ChatML; unless `reply` is None, an open turn of `role` that already says
    `reply`, for the model to go on from."""
    text = "".join(f"{START}{who}\n{content.strip()}{END}\n" for who, content in turns)
    if reply is not None:
        text += f"{START}{role}\n{reply}"
    return text
