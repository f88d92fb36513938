"""The OpenAI Responses surface (/v1/responses, stateless): translation to and from the chat pipeline's shapes.

How the pipeline uses it:
1. `translate_responses_request(body)` -> ResponsesRequest: `.chat` is a chat-completions body for
   validate_chat_request, `.dropped` the field names not sent (for X-Dropped-Params), `.stream`, `.model`,
   `.echo` (settings the response repeats). It raises GatewayError (400, OpenAI-style `param`).
2. Non-streamed: `response_from_completion(completion, request, usage=billed)` -> response object.
3. Streamed: `ResponseEvents(request, request_id=...)`; `start()` as soon as the upstream answered (the
   first byte), `feed(chunk)` per relay chunk dict -> SSE bytes, `keepalive()` for a provider comment, then
   `finish(usage=billed)` at [DONE] or `fail(GatewayError)` on a cut. The relay drives it.
4. Errors before a stream starts: GatewayError.response() as on chat completions (`error_body` is its body).
5. /v1/responses/input_tokens: `count_input_tokens(body)`.
"""
from .count_tokens import count_input_tokens
from .errors import error_body
from .request import ResponsesRequest, translate_responses_request
from .response import response_from_completion
from .stream import ResponseEvents

__all__ = ["ResponseEvents", "ResponsesRequest", "count_input_tokens", "error_body", "response_from_completion",
           "translate_responses_request"]
