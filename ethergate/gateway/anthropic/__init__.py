"""The Anthropic Messages surface (/v1/messages): translation to and from the chat pipeline's shapes.

How the pipeline uses it:
1. `translate_messages_request(body)` -> MessagesRequest: `.chat` is a chat-completions body for
   validate_chat_request, `.dropped` the field names not sent (for X-Dropped-Params), `.stream`, `.model`,
   `.omit_thinking`, `.tool_names`. It raises GatewayError (400, Anthropic-style dotted `param`).
2. Non-streamed: `message_from_completion(completion, model=..., omit_thinking=..., usage=billed,
   tool_names=...)` -> message.
3. Streamed: `MessageEvents(model, request_id=..., input_tokens=estimate, omit_thinking=..., tool_names=...)`;
   for each relay chunk dict `feed(chunk)` -> SSE bytes, `keepalive()` for a provider comment, then
   `finish(usage=billed)` at [DONE] or `fail(GatewayError)` on a cut. The relay drives it.
4. Errors: `error_body(GatewayError, request_id)` before a stream starts, `error_event` after.
5. /v1/messages/count_tokens: `count_tokens(body)`.
"""
from .count_tokens import count_tokens
from .errors import error_body, error_event
from .message import message_from_completion
from .request import MessagesRequest, translate_messages_request
from .stream import MessageEvents

__all__ = ["MessageEvents", "MessagesRequest", "count_tokens", "error_body", "error_event",
           "message_from_completion", "translate_messages_request"]
