"""The OpenAI Responses surface (/v1/responses, stateless): translation to and from the chat pipeline's shapes."""
from .count_tokens import count_input_tokens
from .errors import error_body
from .request import ResponsesRequest, translate_responses_request
from .response import response_from_completion
from .stream import ResponseEvents, response_stream

__all__ = ["ResponseEvents", "ResponsesRequest", "count_input_tokens", "error_body", "response_from_completion",
           "response_stream", "translate_responses_request"]
