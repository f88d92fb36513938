"""The shape of a chat completion request, checked as OpenAI checks it, before anything is held or sent.

Errors use OpenAI's wording ("Invalid type for 'temperature': ...") and name the offending field in
`param` as a JSON path such as `messages[2].tool_calls[0].function.arguments`. Fields the gateway does
not know are forwarded unchanged: providers have their own (Qwen `enable_thinking`, DeepSeek `thinking`).
A null optional field means the same as an absent one, as in OpenAI's schema.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..catalog.snapshot import ModelInfo
from .errors import GatewayError, invalid_request

ROLES = ("system", "developer", "user", "assistant", "tool")
NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TOKEN_ID = re.compile(r"\d{1,10}")
MAX_MODEL_ID = 256
MAX_STOP = 4
MAX_TOOLS = 128
TEXT_ONLY = frozenset({"text"})
ASSISTANT_PARTS = frozenset({"text", "refusal"})
VISUAL_PARTS = frozenset({"image_url", "video_url", "video"})
NOT_FORWARDED = ("model", "stream", "stream_options")
_ABSENT = object()


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list
    stream: bool
    include_usage: bool
    max_tokens: int | None
    params: dict
    tools: list | None


def validate_chat_request(body: object) -> ChatRequest:
    """The request as a ChatRequest, or a GatewayError (400) naming the first thing wrong with it."""
    if not isinstance(body, dict):
        raise invalid_request("request body must be a JSON object")
    bad_number = _non_finite_path(body)
    if bad_number is not None:
        raise _invalid(bad_number, "numbers must be finite; NaN and Infinity are not valid JSON")
    model = _require(body, "", "model", _check_model)
    messages = _require(body, "", "messages", _check_messages)
    stream = body.get("stream")
    if stream is not None:
        _check_boolean("stream", stream)
    include_usage = _check_stream_options(body.get("stream_options"), stream is True)
    for name, check in FIELD_CHECKS.items():
        if body.get(name) is not None:
            check(name, body[name])
    tools = body.get("tools")
    _check_tool_choice(body.get("tool_choice"), tools)
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise _invalid("top_logprobs", "requires 'logprobs' to be true")
    completion, legacy = body.get("max_completion_tokens"), body.get("max_tokens")
    if completion is not None and legacy is not None and completion != legacy:
        raise _invalid("max_tokens", f"max_tokens ({legacy}) and max_completion_tokens ({completion}) disagree; "
                                     "send only max_completion_tokens")
    params = {key: value for key, value in body.items() if key not in NOT_FORWARDED}
    return ChatRequest(model=model, messages=messages, stream=stream is True, include_usage=include_usage,
                       max_tokens=completion if completion is not None else legacy, params=params, tools=tools)


def apply_model_policy(chat: ChatRequest, model: ModelInfo) -> None:
    """Refuse what this model cannot do, before any credit is held or any provider is called."""
    params = chat.params
    n = params.get("n")
    if n is not None and model.max_n is not None and n > model.max_n:
        plural = "s" if model.max_n != 1 else ""
        raise _invalid("n", f"{model.id} generates at most {model.max_n} choice{plural} per request, but got {n}")
    if chat.stream and not model.has("streaming"):
        raise _invalid("stream", f"{model.id} does not support streaming; send stream: false")
    if not model.has("tools"):
        for name in ("tools", "tool_choice", "functions"):
            if params.get(name) is not None:
                raise _invalid("tools" if name == "tool_choice" else name,
                               f"{model.id} does not support tool calling; GET /v1/models lists each "
                               "model's capabilities")
    response_format = params.get("response_format")
    if (isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")
            and not model.has("json_mode")):
        raise _invalid("response_format", f"{model.id} does not support JSON output "
                                          f"(response_format {response_format['type']!r})")
    if not model.has("vision"):
        visual = _first_visual_part(chat.messages)
        if visual is not None:
            raise _invalid(visual, f"{model.id} does not accept image or video input; choose a model with the "
                                   "'vision' capability")


def _invalid(param: str, problem: str) -> GatewayError:
    return invalid_request(f"Invalid '{param}': {problem}.", param)


def _missing(param: str, hint: str = "") -> GatewayError:
    return invalid_request(f"Missing required parameter: '{param}'{hint}.", param)


def _wrong_type(param: str, expected: str, value: object) -> GatewayError:
    return invalid_request(f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.", param)


def _kind(value: object) -> str:
    for kind, name in ((type(None), "null"), (bool, "a boolean"), (int, "an integer"), (float, "a decimal number"),
                       (str, "a string"), (list, "an array")):
        if isinstance(value, kind):
            return name
    return "an object"


def _shown(value: str) -> str:
    return repr(value[:40])


def _non_finite_path(body: dict) -> str | None:
    # Python's json module reads NaN and Infinity; no provider does, and they would poison billing.
    stack: list[tuple[object, str]] = [(body, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, float):
            if not math.isfinite(value):
                return path
        elif isinstance(value, dict):
            stack.extend(reversed([(item, f"{path}.{key}" if path else str(key)) for key, item in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(item, f"{path}[{index}]") for index, item in enumerate(value)]))
    return None


def _require(container: dict, where: str, key: str, check) -> object:
    param = f"{where}.{key}" if where else key
    value = container.get(key)
    if value is None:
        raise _missing(param)
    check(param, value)
    return value


def _typed(kind: type, expected: str):
    def check(param: str, value: object) -> None:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise _wrong_type(param, expected, value)
    return check


_check_boolean = _typed(bool, "a boolean")
_check_string = _typed(str, "a string")
_check_object = _typed(dict, "an object")
_check_array = _typed(list, "an array")


def _number_between(low: float, high: float):
    def check(param: str, value: object) -> None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _wrong_type(param, "a number", value)
        if not low <= value <= high:
            raise _invalid(param, f"expected a number between {low:g} and {high:g}, but got {value!r}")
    return check


def _integer_between(low: int, high: int | None):
    def check(param: str, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong_type(param, "an integer", value)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _invalid(param, f"expected an integer {bound}, but got {value}")
    return check


def _array_of(item_check, expected: str, empty_hint: str | None = None, limit: int | None = None):
    """An array whose items pass `item_check`; empty arrays are refused when `empty_hint` says what to do."""
    def check(param: str, value: object) -> None:
        if not isinstance(value, list):
            raise _wrong_type(param, expected, value)
        if not value and empty_hint:
            raise _invalid(param, f"empty array; {empty_hint}")
        if limit is not None and len(value) > limit:
            raise _invalid(param, f"array too long; expected at most {limit} items, but got {len(value)}")
        for index, item in enumerate(value):
            item_check(f"{param}[{index}]", item)
    return check


def _check_fields(container: dict, where: str, optional: dict) -> None:
    for key, check in optional.items():
        if container.get(key) is not None:
            check(f"{where}.{key}", container[key])


def _check_name(param: str, value: object) -> None:
    _check_string(param, value)
    if not NAME_PATTERN.fullmatch(value):
        raise _invalid(param, f"{value[:80]!r} is not a valid name; use 1-64 letters, digits, underscores "
                              "or dashes")


def _check_model(param: str, value: object) -> None:
    _check_string(param, value)
    if not value.strip():
        raise _invalid(param, "expected a model ID such as 'qwen/qwen-plus'; GET /v1/models lists them")
    if len(value) > MAX_MODEL_ID:
        raise _invalid(param, f"string too long; model IDs are at most {MAX_MODEL_ID} characters")


def _check_stop(param: str, value: object) -> None:
    if not isinstance(value, str):
        _array_of(_check_string, "a string or an array of strings", "omit 'stop' or send up to 4 strings",
                  MAX_STOP)(param, value)


def _check_logit_bias(param: str, value: object) -> None:
    _check_object(param, value)
    for token, bias in value.items():
        if not TOKEN_ID.fullmatch(token):
            raise _invalid(param, f"keys are token IDs written as strings of digits, but got {_shown(token)}")
        _number_between(-100, 100)(f"{param}.{token}", bias)


def _check_response_format(param: str, value: object) -> None:
    _check_object(param, value)
    kind = _require(value, param, "type", _check_string)
    if kind not in ("text", "json_object", "json_schema"):
        raise _invalid(f"{param}.type", f"expected 'text', 'json_object' or 'json_schema', but got {_shown(kind)}")
    if kind == "json_schema":
        spec = _require(value, param, "json_schema", _check_object)
        _require(spec, f"{param}.json_schema", "name", _check_name)
        _check_fields(spec, f"{param}.json_schema",
                      {"schema": _check_object, "strict": _check_boolean, "description": _check_string})


def _check_tool(param: str, tool: object) -> None:
    _check_object(param, tool)
    kind = _require(tool, param, "type", _check_string)
    if kind != "function":
        raise _invalid(f"{param}.type", f"only 'function' tools are supported, but got {_shown(kind)}")
    function = _require(tool, param, "function", _check_object)
    _require(function, f"{param}.function", "name", _check_name)
    _check_fields(function, f"{param}.function",
                  {"description": _check_string, "parameters": _check_object, "strict": _check_boolean})


def _check_tool_choice(value: object, tools: object) -> None:
    if value is None:
        return
    if not tools:
        raise _invalid("tool_choice", "'tool_choice' is only allowed when 'tools' are specified")
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise _invalid("tool_choice", "expected 'none', 'auto', 'required' or {\"type\": \"function\", "
                                          f"\"function\": {{\"name\": ...}}}}, but got {_shown(value)}")
        return
    if not isinstance(value, dict):
        raise _wrong_type("tool_choice", "a string or an object", value)
    kind = _require(value, "tool_choice", "type", _check_string)
    if kind != "function":
        raise _invalid("tool_choice.type", f"only 'function' is supported, but got {_shown(kind)}")
    function = _require(value, "tool_choice", "function", _check_object)
    name = _require(function, "tool_choice.function", "name", _check_string)
    if name not in {tool["function"]["name"] for tool in tools}:
        raise _invalid("tool_choice.function.name", f"no tool named {name[:80]!r} is in 'tools'")


def _check_function_call(param: str, value: object) -> None:
    if not isinstance(value, str):
        _check_object(param, value)
        _require(value, param, "name", _check_string)


def _check_stream_options(value: object, stream: bool) -> bool:
    if value is None:
        return False
    if not stream:
        raise _invalid("stream_options", "'stream_options' is only allowed when 'stream' is true")
    _check_object("stream_options", value)
    _check_fields(value, "stream_options", {"include_usage": _check_boolean, "include_obfuscation": _check_boolean})
    return value.get("include_usage") is True


def _check_messages(param: str, messages: object) -> None:
    _array_of(_check_message, "an array of messages", "send at least one message")(param, messages)


def _check_message(path: str, message: object) -> None:
    if not isinstance(message, dict):
        raise _wrong_type(path, "an object with 'role' and 'content'", message)
    role = message.get("role")
    if role is None:
        raise _missing(f"{path}.role")
    if role == "function":
        raise _invalid(f"{path}.role", "the legacy 'function' role is not supported; send the result as a "
                                       "'tool' message with the tool_call_id it answers")
    if role not in ROLES:
        shown = _shown(role) if isinstance(role, str) else _kind(role)
        raise _invalid(f"{path}.role", f"expected one of {', '.join(repr(r) for r in ROLES)}, but got {shown}")
    _check_fields(message, path, {"name": _check_string})
    if role == "assistant":
        _check_assistant(path, message)
        return
    content = message.get("content", _ABSENT)
    if content is _ABSENT:
        raise _missing(f"{path}.content")
    _check_content(f"{path}.content", content, None if role == "user" else TEXT_ONLY)
    if role == "tool":
        _require(message, path, "tool_call_id", _check_string)


def _check_assistant(path: str, message: dict) -> None:
    tool_calls, function_call = message.get("tool_calls"), message.get("function_call")
    _check_fields(message, path, {"tool_calls": _check_tool_calls, "function_call": _check_called_function})
    content = message.get("content")
    if content is not None:
        _check_content(f"{path}.content", content, ASSISTANT_PARTS)
    elif tool_calls is None and function_call is None:
        raise _missing(f"{path}.content", "; an assistant message needs content unless it has 'tool_calls'")


def _check_tool_call(param: str, call: object) -> None:
    _check_object(param, call)
    _require(call, param, "id", _check_string)
    kind = _require(call, param, "type", _check_string)
    if kind != "function":
        raise _invalid(f"{param}.type", f"only 'function' tool calls are supported, but got {_shown(kind)}")
    _require(call, param, "function", _check_called_function)


def _check_called_function(param: str, function: object) -> None:
    _check_object(param, function)
    _require(function, param, "name", _check_string)
    _require(function, param, "arguments", _check_arguments)


def _check_arguments(param: str, value: object) -> None:
    if not isinstance(value, str):
        raise _wrong_type(param, "a string holding the JSON-encoded arguments", value)


def _check_content(param: str, content: object, allowed: frozenset | None) -> None:
    """`allowed` limits the part types; None (user messages) accepts any, checking the ones OpenAI defines."""
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _wrong_type(param, "a string or an array of content parts", content)
    if not content:
        raise _invalid(param, "empty array; send a string or at least one content part")
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        _check_object(where, part)
        kind = _require(part, where, "type", _check_string)
        if allowed is not None and kind not in allowed:
            expected = " or ".join(repr(k) for k in sorted(allowed))
            raise _invalid(f"{where}.type", f"this message accepts only {expected} parts, but got {_shown(kind)}")
        check = PART_CHECKS.get(kind)
        if check is not None:
            check(where, part)


def _check_image_part(param: str, part: dict) -> None:
    image = part.get("image_url")
    if image is None:
        raise _missing(f"{param}.image_url")
    if not isinstance(image, dict):
        raise _wrong_type(f"{param}.image_url", 'an object like {"url": "https://..."}', image)
    if not _require(image, f"{param}.image_url", "url", _check_string):
        raise _invalid(f"{param}.image_url.url", "empty string; send an https URL or a data: URL")
    if image.get("detail") is not None and image["detail"] not in ("auto", "low", "high"):
        raise _invalid(f"{param}.image_url.detail", "expected 'auto', 'low' or 'high'")


def _check_audio_part(param: str, part: dict) -> None:
    audio = _require(part, param, "input_audio", _check_object)
    _require(audio, f"{param}.input_audio", "data", _check_string)
    _require(audio, f"{param}.input_audio", "format", _check_string)


_check_tool_calls = _array_of(_check_tool_call, "an array of tool calls",
                              "omit 'tool_calls' when the assistant called no tool")

PART_CHECKS = {
    "text": lambda param, part: _require(part, param, "text", _check_string),
    "refusal": lambda param, part: _require(part, param, "refusal", _check_string),
    "image_url": _check_image_part,
    "input_audio": _check_audio_part,
    "file": lambda param, part: _require(part, param, "file", _check_object),
}

FIELD_CHECKS = {
    "temperature": _number_between(0, 2),
    "top_p": _number_between(0, 1),
    "presence_penalty": _number_between(-2, 2),
    "frequency_penalty": _number_between(-2, 2),
    "max_tokens": _integer_between(1, None),
    "max_completion_tokens": _integer_between(1, None),
    "n": _integer_between(1, 128),
    "seed": _integer_between(-2 ** 63, 2 ** 63 - 1),
    "top_logprobs": _integer_between(0, 20),
    "stop": _check_stop,
    "response_format": _check_response_format,
    "tools": _array_of(_check_tool, "an array of tools", "omit 'tools' when there are none", MAX_TOOLS),
    "logit_bias": _check_logit_bias,
    "modalities": _array_of(_check_string, "an array of strings"),
    "functions": _check_array,
    "function_call": _check_function_call,
    **dict.fromkeys(("logprobs", "parallel_tool_calls", "store"), _check_boolean),
    **dict.fromkeys(("user", "service_tier", "reasoning_effort", "verbosity", "prompt_cache_key",
                     "safety_identifier"), _check_string),
    **dict.fromkeys(("metadata", "prediction", "audio", "web_search_options"), _check_object),
}


def _first_visual_part(messages: list) -> str | None:
    for index, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if part.get("type") in VISUAL_PARTS:
                    return f"messages[{index}].content[{part_index}]"
    return None
