"""POST /v1/messages/count_tokens: the request translated as for /v1/messages, then estimated.

The number is token_estimate's stated estimate, not a tokenizer count (see that module); it is what a
client such as Claude Code uses to decide when to compact, so an honest middle estimate serves it better
than the credit hold's upper bound, which would make it compact far too early.
"""
from __future__ import annotations

from ..token_estimate import estimate_input_tokens
from .request import translate_messages_request


def count_tokens(body: object) -> dict:
    """The count_tokens answer for `body`: {"input_tokens": n}; raises the same 400s as /v1/messages."""
    request = translate_messages_request(body, require_max_tokens=False)
    return {"input_tokens": estimate_input_tokens(request.chat["messages"], request.chat.get("tools"))}
