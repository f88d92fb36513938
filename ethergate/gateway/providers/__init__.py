"""Provider adapters: pure translation between OpenAI's chat API and DeepSeek, Qwen and Moonshot."""
from .adapters import (StreamTranslator, build_upstream_body, estimate_completion_tokens, estimate_prompt_tokens,
                       normalize_completion)
from .failures import (UpstreamFailure, classify_http_error, classify_stream_error, network_failure,
                       timeout_failure, upstream_request_id)
from .sse import DONE, SSEEvent, SSEParser, encode_comment, encode_event
from .usage import Usage, normalize_usage

__all__ = [
    "DONE", "SSEEvent", "SSEParser", "StreamTranslator", "Usage", "UpstreamFailure", "build_upstream_body",
    "classify_http_error", "classify_stream_error", "encode_comment", "encode_event", "estimate_completion_tokens",
    "estimate_prompt_tokens", "network_failure", "normalize_completion", "normalize_usage", "timeout_failure",
    "upstream_request_id",
]
