"""The OpenAI Responses surface (/v1/responses, stateless): translation to and from the chat pipeline's shapes."""
from .errors import error_body
from .request import ResponsesRequest, translate_responses_request
from .response import response_from_completion
from .stream import ResponseEvents, response_stream

__all__ = ["ResponseEvents", "ResponsesRequest", "error_body", "response_from_completion", "response_stream",
           "translate_responses_request"]
