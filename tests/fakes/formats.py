"""Wire formats spoken by the fake upstream: ids, usage shapes, error bodies, stream chunks.

Checked against public captures of the real APIs (issue threads, client code and docs):
- DeepSeek: ids are bare UUIDs; usage has prompt_cache_hit/miss_tokens plus prompt_tokens_details;
  with include_usage every chunk carries "usage": null except the finish chunk, which holds the
  usage; 402 {"message": "Insufficient Balance", "type": "unknown_error", "param": null,
  "code": "invalid_request_error"}; 401 type authentication_error.
- Qwen (DashScope compatible mode): ids "chatcmpl-<uuid>"; usage.prompt_tokens_details.cached_tokens;
  error bodies add a top-level request_id; out of balance is 400 type/code "Arrearage";
  401 code invalid_api_key; 429 type/code limit_requests.
- Moonshot: ids "chatcmpl-<24 hex>"; top-level usage.cached_tokens; streamed usage sits in
  choices[0].usage of the finish chunk; 401 invalid_authentication_error; out of balance is 429
  exceeded_current_quota_error without Retry-After; msh-request-id response header.
Request checks (request_problem) the real APIs make, so the gateway is proven to fit each one:
- DashScope refuses max_tokens above the model's output limit ("Range of max_tokens should be [1, N]");
- DeepSeek and Kimi in thinking mode (the default) refuse an assistant tool-call turn sent back without
  reasoning_content ("The reasoning_content in the thinking mode must be passed back to the API.");
- DeepSeek refuses roles other than system/user/assistant/tool (422, serde "unknown variant");
- Kimi refuses a forced tool_choice while thinking.
Guesses, not verified: Qwen refusing reasoning_content and a system message after the first one; DeepSeek 429/5xx bodies, Qwen and Moonshot 5xx bodies, tool-call ids.
"""

import re
import uuid
from http import HTTPStatus

PROVIDERS = ("deepseek", "qwen", "moonshot")

BASE_PATHS = {
    "deepseek": "/deepseek",
    "qwen": "/qwen/compatible-mode/v1",
    "moonshot": "/moonshot/v1",
}

# Exact path -> (provider, endpoint); DeepSeek also answers under its /v1 alias.
ROUTES = {}
for _provider, _prefixes in (
    ("deepseek", ("/deepseek", "/deepseek/v1")),
    ("qwen", ("/qwen/compatible-mode/v1",)),
    ("moonshot", ("/moonshot/v1",)),
):
    for _prefix in _prefixes:
        ROUTES[_prefix + "/chat/completions"] = (_provider, "chat")
        ROUTES[_prefix + "/models"] = (_provider, "models")

MODELS = {
    "deepseek": (("deepseek-chat", "deepseek"), ("deepseek-reasoner", "deepseek")),
    "qwen": (("qwen-plus", "system"), ("qwen-max", "system"), ("qwen-turbo", "system")),
    "moonshot": (("moonshot-v1-8k", "moonshot"), ("kimi-k2-turbo-preview", "moonshot")),
}

_QWEN_DOC = "For details, see: https://help.aliyun.com/zh/model-studio/error-code"
_KIMI_ACCOUNT = "Your account org-fake <ak-fake>"

# (provider, status) -> (message, type, code); Moonshot bodies carry no code.
ERRORS = {
    ("deepseek", 400): ("Invalid Format", "invalid_request_error", "invalid_request_error"),
    ("deepseek", 401): ("Authentication Fails, Your api key: ****fake is invalid",
                        "authentication_error", "invalid_request_error"),
    ("deepseek", 402): ("Insufficient Balance", "unknown_error", "invalid_request_error"),
    ("deepseek", 422): ("Invalid Parameters", "invalid_request_error", "invalid_request_error"),
    ("deepseek", 429): ("Rate Limit Reached", "rate_limit_error", "invalid_request_error"),
    ("deepseek", 500): ("Server Error", "server_error", "internal_error"),
    ("deepseek", 503): ("Server Overloaded", "server_error", "server_overloaded"),
    ("qwen", 400): ("Invalid request parameters.", "invalid_request_error", "invalid_parameter_error"),
    ("qwen", 401): ("Incorrect API key provided. " + _QWEN_DOC + "#apikey-error",
                    "invalid_request_error", "invalid_api_key"),
    ("qwen", 429): ("You have exceeded your current request limit. " + _QWEN_DOC + "#rate-limit",
                    "limit_requests", "limit_requests"),
    ("qwen", 500): ("An internal error has occured, please try again later or contact service support.",
                    "internal_error", "internal_error"),
    ("qwen", 503): ("The service is temporarily unavailable, please try again later.",
                    "service_unavailable", "ServiceUnavailable"),
    ("moonshot", 400): ("Invalid request", "invalid_request_error", None),
    ("moonshot", 401): ("Invalid Authentication", "invalid_authentication_error", None),
    ("moonshot", 404): ("Not found the model or Permission denied", "resource_not_found_error", None),
    ("moonshot", 429): (_KIMI_ACCOUNT + " request reached organization max RPM: 3, please try again after 1 seconds",
                        "rate_limit_reached_error", None),
    ("moonshot", 500): ("Internal server error", "server_error", None),
}

MISSING_KEY_MESSAGES = {
    "deepseek": "Authentication Fails (auth header format should be Bearer sk-...)",
    "qwen": "You didn't provide an API key. " + _QWEN_DOC + "#apikey-error",
    "moonshot": "Invalid Authentication",
}

BALANCE_ERRORS = {
    "deepseek": (402, "Insufficient Balance", "unknown_error", "invalid_request_error"),
    "qwen": (400, "Access denied, please make sure your account is in good standing. "
             + _QWEN_DOC + "#overdue-payment", "Arrearage", "Arrearage"),
    "moonshot": (429, _KIMI_ACCOUNT + " is suspended due to insufficient balance, please recharge "
                 "your account or check your plan and billing details", "exceeded_current_quota_error", None),
}


def new_ids(provider):
    """Return (body id, request id) the way each provider mints them."""
    raw = str(uuid.uuid4())
    if provider == "deepseek":
        return raw, raw
    if provider == "qwen":
        return "chatcmpl-" + raw, raw
    body_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    return body_id, body_id


def _generic_error(provider, status):
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = "Error"
    type_ = "invalid_request_error" if status < 500 else "server_error"
    return message, type_, None if provider == "moonshot" else type_


def error_body(provider, status, request_id, message=None, type_=None, code=None):
    default_message, default_type, default_code = ERRORS.get((provider, status)) or _generic_error(provider, status)
    error = {"message": message or default_message, "type": type_ or default_type}
    if provider != "moonshot":
        error["param"] = None
        error["code"] = code or default_code
    elif code:
        error["code"] = code
    body = {"error": error}
    if provider == "qwen":
        body["request_id"] = request_id
    return body


def words(text):
    return len(text.split()) if text else 0


def word_pieces(text):
    """Split text into one piece per word, each keeping its trailing whitespace."""
    pieces = re.findall(r"\S+\s*", text or "")
    if pieces and text[0].isspace():
        pieces[0] = text[: len(text) - len(text.lstrip())] + pieces[0]
    return pieces


def even_pieces(text, count):
    if count <= 0:
        return []
    size = len(text)
    bounds = [round(i * size / count) for i in range(count + 1)]
    return [text[bounds[i]:bounds[i + 1]] for i in range(count)]


def usage_payload(provider, prompt, completion, cached=0, reasoning=None):
    """Usage in the provider's shape; reasoning=None leaves out the reasoning breakdown."""
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if provider == "moonshot":
        usage["cached_tokens"] = cached
        return usage
    usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if provider == "deepseek":
        usage["prompt_cache_hit_tokens"] = cached
        usage["prompt_cache_miss_tokens"] = max(prompt - cached, 0)
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


OUTPUT_LIMITS = {"qwen-plus": 32768, "qwen-plus-latest": 32768, "qwen-flash": 32768}
ROLES = ("system", "user", "assistant", "tool")
REASONING_MISSING = "The reasoning_content in the thinking mode must be passed back to the API."


def _thinking(provider, body):
    thinking = body.get("thinking")
    if provider == "qwen":
        return body.get("enable_thinking") is True
    return not (isinstance(thinking, dict) and thinking.get("type") == "disabled")


def request_problem(provider, body):
    """(status, message) for a request the real provider refuses, or None."""
    limit = OUTPUT_LIMITS.get(body.get("model"))
    cap = body.get("max_tokens") if provider != "moonshot" else body.get("max_completion_tokens")
    if limit is not None and isinstance(cap, int) and not 1 <= cap <= limit:
        return 400, "Range of max_tokens should be [1, %d]" % limit
    for index, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        if message.get("role") not in ROLES:
            return (422 if provider == "deepseek" else 400), (
                "Failed to deserialize the JSON body into the target type: messages[%d].role: unknown variant `%s`"
                % (index, message.get("role")))
        if provider == "qwen" and "reasoning_content" in message:
            return 400, "<400> InternalError.Algo.InvalidParameter: unexpected field messages[%d].reasoning_content" % index
        if provider == "qwen" and message.get("role") == "system" and index > 0:
            return 400, "<400> InternalError.Algo.InvalidParameter: System message must be at the beginning."
        if (provider in ("deepseek", "moonshot") and _thinking(provider, body) and message.get("role") == "assistant"
                and message.get("tool_calls") and not message.get("reasoning_content")):
            return 400, REASONING_MISSING
    choice = body.get("tool_choice")
    if provider == "moonshot" and _thinking(provider, body) and (choice == "required" or isinstance(choice, dict)):
        return 400, "tool_choice 'required' is incompatible with thinking enabled"
    return None


class Answer:
    """One generated reply, rendered either as a chat.completion or as chunks."""

    def __init__(self, provider, model, created, content, reasoning, tool_calls, finish_reason, usage,
                 content_pieces, reasoning_pieces):
        self.provider = provider
        self.model = model
        self.created = created
        self.id = new_ids(provider)[0]
        self.content = content
        self.reasoning = reasoning
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.usage = usage
        self.content_pieces = content_pieces
        self.reasoning_pieces = reasoning_pieces

    def completion(self):
        message = {"role": "assistant", "content": self.content}
        if self.reasoning is not None:
            message["reasoning_content"] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in self.tool_calls
            ]
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        if self.provider != "moonshot":
            choice["logprobs"] = None
        body = {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": [choice]}
        if self.usage is not None:
            body["usage"] = self.usage
        if self.provider == "deepseek":
            body["system_fingerprint"] = "fp_fake"
        elif self.provider == "qwen":
            body["system_fingerprint"] = None
        return body

    def _chunk(self, delta, finish_reason=None):
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        if self.provider != "moonshot":
            choice["logprobs"] = None
        chunk = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                 "choices": [choice]}
        if self.provider == "deepseek":
            chunk["system_fingerprint"] = "fp_fake"
        return chunk

    def chunks(self, include_usage):
        """Yield (kind, chunk) with kind in role/payload/finish/usage, in wire order."""
        usage = self.usage
        # DeepSeek and Qwen only report streamed usage on request; Moonshot always does.
        wants_usage = usage is not None and (include_usage or self.provider == "moonshot")
        null_usage = include_usage and self.provider != "moonshot"

        def emit(kind, chunk):
            if null_usage:
                chunk["usage"] = None
            return kind, chunk

        yield emit("role", self._chunk({"role": "assistant", "content": ""}))
        for piece in self.reasoning_pieces:
            delta = {"reasoning_content": piece}
            if self.provider != "moonshot":
                delta["content"] = None
            yield emit("payload", self._chunk(delta))
        for piece in self.content_pieces:
            yield emit("payload", self._chunk({"content": piece}))
        for index, call in enumerate(self.tool_calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["name"], "arguments": ""}}
            yield emit("payload", self._chunk({"tool_calls": [head]}))
            for part in even_pieces(call["arguments"], min(3, len(call["arguments"]))):
                yield emit("payload", self._chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))

        finish = self._chunk({} if self.provider == "moonshot" else {"content": ""}, self.finish_reason)
        if wants_usage and self.provider == "moonshot":
            finish["choices"][0]["usage"] = usage
        kind, finish = emit("finish", finish)
        if wants_usage and self.provider == "deepseek":
            finish["usage"] = usage
        yield kind, finish
        if wants_usage and self.provider == "qwen":
            trailer = self._chunk({})
            trailer["choices"] = []
            trailer["usage"] = usage
            yield "usage", trailer
