"""The Anthropic Messages surface (/v1/messages): translation to and from the chat pipeline's shapes."""
from .count_tokens import count_tokens
from .errors import error_body, error_event
from .message import message_from_completion
from .request import MessagesRequest, translate_messages_request
from .stream import MessageEvents, message_stream

__all__ = ["MessageEvents", "MessagesRequest", "count_tokens", "error_body", "error_event",
           "message_from_completion", "message_stream", "translate_messages_request"]
