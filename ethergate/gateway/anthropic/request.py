"""An Anthropic Messages request as the chat-completions request the one pipeline serves.

The result is the body `validate_chat_request` accepts, plus the names of what was deliberately not sent.
Claude Code's extra fields, each decided:
- cache_control (top level, on blocks, on tools): dropped; DeepSeek, Qwen and Kimi cache prompt prefixes
  on their own, so only the explicit breakpoints are lost.
- metadata.user_id: sent as `user`; one longer than 64 characters as a digest of it.
- context_management, container, service_tier, inference_geo, speed, diagnostics, betas: dropped, named.
- output_config.effort: sent as reasoning_effort (as given to DeepSeek, which documents every level; "xhigh"
  and "max" as "high" elsewhere, see thinking.py);
  output_config.format: sent as response_format json_schema.
- tools with defer_loading: loaded like any other tool (there is no server-side tool search here), and the
  tool-search tools themselves are dropped, named; other Anthropic server tools (web search, code
  execution, ...) are refused, because the model would answer as if it had used them.
- mcp_servers: refused for the same reason.
- tool names longer than chat's 64 characters (Anthropic allows 128) are sent shortened (tool_names.py)
  and given back as the client wrote them.
- thinking: enabled (with budget_tokens as Qwen's thinking_budget), adaptive (enabled, no budget),
  disabled and between_tools (disabled) become the provider's own switch; `display: "omitted"` is
  honoured on the way back.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..dropped import Dropped
from ..thinking import provider_of, reasoning_effort, thinking_switches
from ..tool_names import chat_tool_name
from .content import chat_messages, system_prompt
from .errors import invalid

MAX_STOP_SEQUENCES = 4  # the most DeepSeek, Qwen and Kimi all accept
MAX_USER = 64           # OpenAI's bound for end-user identifiers
DROPPED_FIELDS = ("context_management", "container", "service_tier", "inference_geo", "speed", "diagnostics",
                  "betas", "user_profile_id", "workspace_id", "cache_control")
TOOL_FIELDS_DROPPED = ("cache_control", "input_examples", "eager_input_streaming", "allowed_callers")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
HANDLED = frozenset({"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
                     "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "output_config",
                     "mcp_servers", *DROPPED_FIELDS})


@dataclass
class MessagesRequest:
    """What the pipeline needs from a Messages request: the chat body and how to shape the answer."""
    chat: dict
    dropped: list[str]
    model: str
    stream: bool
    omit_thinking: bool = False
    tool_names: dict = field(default_factory=dict)   # chat function name -> the client's longer tool name


def translate_messages_request(body: object, *, provider: str | None = None,
                               require_max_tokens: bool = True) -> MessagesRequest:
    """`body` as a chat-completions request; `provider` defaults to the model ID's prefix.

    count_tokens passes require_max_tokens=False: Anthropic's counting endpoint takes no max_tokens.
    """
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    dropped = Dropped()
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("model", "expected a model ID such as 'deepseek/deepseek-v4-flash'; GET /v1/models lists them")
    provider = provider or provider_of(model)
    messages, hoisted = chat_messages(body.get("messages"), dropped)
    system = [text for text in (system_prompt(body.get("system"), dropped), *hoisted) if text]
    chat: dict = {"model": model, "messages": ([{"role": "system", "content": "\n\n".join(system)}] if system else [])
                  + messages}
    _sampling(body, chat, require_max_tokens)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream", "expected a boolean")
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # message_delta reports usage at the end
    _metadata(body.get("metadata"), chat, dropped)
    tools, tool_names = _tools(body.get("tools"), dropped)
    if tools:
        chat["tools"] = tools
    _tool_choice(body.get("tool_choice"), tools, chat)
    omit_thinking = _thinking(body.get("thinking"), provider, chat, dropped)
    _output_config(body.get("output_config"), provider, chat, dropped)
    if body.get("mcp_servers"):
        raise invalid("mcp_servers", "remote MCP servers are not supported; define their tools in 'tools' and "
                                     "run them on the client")
    for name in DROPPED_FIELDS:
        if body.get(name) is not None:
            dropped.add(name)
    for name in body:
        if name not in HANDLED:
            dropped.add(name)
    return MessagesRequest(chat=chat, dropped=list(dropped), model=model, stream=bool(stream),
                           omit_thinking=omit_thinking, tool_names=tool_names)


def _number(body: dict, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(name, "expected a number")
    if not low <= value <= high:
        raise invalid(name, f"expected a number between {low:g} and {high:g}, but got {value!r}")
    return value


def _sampling(body: dict, chat: dict, require_max_tokens: bool) -> None:
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        if require_max_tokens:
            raise invalid("max_tokens", "Field required")
    elif isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise invalid("max_tokens", "expected an integer")
    elif max_tokens < 1:
        raise invalid("max_tokens", "expected at least 1; there is no prompt cache to pre-warm with 0")
    else:
        chat["max_tokens"] = max_tokens
    for name, low, high in (("temperature", 0, 1), ("top_p", 0, 1)):
        value = _number(body, name, low, high)
        if value is not None:
            chat[name] = value
    top_k = body.get("top_k")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise invalid("top_k", "expected a non-negative integer")
        chat["top_k"] = top_k  # Qwen's own parameter; the adapters drop it, named, for other providers
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise invalid("stop_sequences", "expected an array of non-empty strings")
        if len(stops) > MAX_STOP_SEQUENCES:
            raise invalid("stop_sequences", f"at most {MAX_STOP_SEQUENCES} stop sequences are accepted by "
                                            f"DeepSeek, Qwen and Kimi, but got {len(stops)}")
        if stops:
            chat["stop"] = stops


def _metadata(metadata: object, chat: dict, dropped: Dropped) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise invalid("metadata", "expected an object")
    user = metadata.get("user_id")
    if user is not None:
        if not isinstance(user, str):
            raise invalid("metadata.user_id", "expected a string")
        # Claude Code's is a JSON blob with device and session IDs: a digest keeps it stable, short and private.
        chat["user"] = user if len(user) <= MAX_USER else hashlib.sha256(user.encode("utf-8")).hexdigest()[:32]
    for name in metadata:
        if name != "user_id":
            dropped.add(f"metadata.{name}")


def _tools(tools: object, dropped: Dropped) -> tuple[list[dict], dict]:
    """The chat tools, and the client's name for each one whose name had to be shortened."""
    if tools is None:
        return [], {}
    if not isinstance(tools, list):
        raise invalid("tools", "expected an array of tools")
    out: list[dict] = []
    tool_names: dict = {}
    for index, tool in enumerate(tools):
        path = f"tools.{index}"
        if not isinstance(tool, dict):
            raise invalid(path, "expected a tool object")
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("tool_search_tool"):
            dropped.add(kind)
            continue
        if kind not in (None, "custom"):
            raise invalid(f"{path}.type", f"{_shown(kind)} is an Anthropic server tool; DeepSeek, Qwen and Kimi run "
                                          "only tools you define (a name and an input_schema) and run yourself")
        name, schema = tool.get("name"), tool.get("input_schema")
        if not isinstance(name, str) or not name:
            raise invalid(f"{path}.name", "expected the tool name")
        if not isinstance(schema, dict):
            raise invalid(f"{path}.input_schema", "expected a JSON Schema object")
        function: dict = {"name": chat_tool_name(name), "parameters": schema}
        if function["name"] != name:
            tool_names[function["name"]] = name
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        for extra in TOOL_FIELDS_DROPPED:
            if tool.get(extra) is not None:
                dropped.add(extra if extra == "cache_control" else f"tools.{extra}")
        out.append({"type": "function", "function": function})
    return out, tool_names


def _shown(value: object) -> str:
    return repr(value[:60]) if isinstance(value, str) else type(value).__name__


def _tool_choice(choice: object, tools: list[dict], chat: dict) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice", "expected an object with type 'auto', 'any', 'tool' or 'none'")
    kind = choice["type"]
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or chat_tool_name(name) not in {t["function"]["name"] for t in tools}:
            raise invalid("tool_choice.name", f"no tool named {_shown(name)} is in 'tools'")
    if not tools:
        return  # chat refuses tool_choice without tools; with none defined, every choice means "no tool"
    chat["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(kind) or \
        {"type": "function", "function": {"name": chat_tool_name(choice["name"])}}
    if choice.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _thinking(thinking: object, provider: str | None, chat: dict, dropped: Dropped) -> bool:
    """Sets the provider's switch; returns whether the client asked for thinking text to be omitted."""
    if thinking is None:
        return False
    if not isinstance(thinking, dict):
        raise invalid("thinking", "expected an object with a 'type'")
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise invalid("thinking.budget_tokens", "expected a positive integer")
        switches = thinking_switches(provider, True, budget)
    elif kind == "adaptive":
        switches = thinking_switches(provider, True)
    elif kind in ("disabled", "between_tools"):
        switches = thinking_switches(provider, False)
    else:
        raise invalid("thinking.type", f"expected 'enabled', 'adaptive', 'disabled' or 'between_tools', "
                                       f"but got {_shown(kind)}")
    if not switches:
        dropped.add("thinking")  # a model whose provider has no thinking switch
    elif kind == "enabled" and "thinking_budget" not in switches:
        dropped.add("thinking.budget_tokens")  # DeepSeek and Kimi think without a budget
    chat.update(switches)
    return thinking.get("display") == "omitted"


def _output_config(config: object, provider: str | None, chat: dict, dropped: Dropped) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise invalid("output_config", "expected an object")
    effort = config.get("effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise invalid("output_config.effort", f"expected one of {', '.join(EFFORTS)}, but got {_shown(effort)}")
        chat["reasoning_effort"] = reasoning_effort(provider, effort)
    output_format = config.get("format")
    if output_format is not None:
        if not isinstance(output_format, dict) or output_format.get("type") != "json_schema" \
                or not isinstance(output_format.get("schema"), dict):
            raise invalid("output_config.format", "expected {\"type\": \"json_schema\", \"schema\": {...}}")
        chat["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "output", "schema": output_format["schema"],
                                                   "strict": True}}
    for name in config:
        if name not in ("effort", "format"):
            dropped.add(f"output_config.{name}")
