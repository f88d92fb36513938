"""A Responses API request (stateless) as the chat-completions request the one pipeline serves.

Decisions, each named in `dropped` when something is not sent:
- store: EtherGate keeps no responses. `store: true` is refused with a clear 400 (a client that asks to store
  would later fail to retrieve); false or absent is served, and the response says `store: false`.
  previous_response_id, conversation, background and prompt need stored state too, so they are refused.
- Hosted tools (web_search, file_search, code_interpreter, computer use, image generation, MCP, local shell,
  custom grammar tools) are dropped, named: Codex sends web_search on every turn and keeps working with its
  function tools. Function tools grouped in a `namespace` tool (Codex's sub-agent tools) are sent as
  "<namespace>__<name>", a name longer than chat's 64 characters shortened (tool_names.py), and calls come
  back with the client's name and namespace again.
  A tool_choice that forces a hosted tool is refused, since it cannot be honoured.
- include values are all dropped, named: no encrypted reasoning, logprobs or hosted-tool outputs exist here.
- reasoning.effort: "none" switches the provider's thinking off; any other level switches it on and is sent
  as reasoning_effort (as given to DeepSeek, which documents every level, the nearest of low/medium/high
  elsewhere: see thinking.py); reasoning.summary is dropped, named: reasoning comes back as
  reasoning_text, never summarized.
- prompt_cache_key, prompt_cache_retention, service_tier, truncation "auto", text.verbosity,
  max_tool_calls, top_logprobs, stream_options: dropped, named. metadata is echoed, never forwarded.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..dropped import Dropped
from ..thinking import provider_of, reasoning_effort, thinking_switches
from ..tool_names import chat_tool_name
from .errors import invalid
from .input_items import chat_messages

STATEFUL = {"previous_response_id": "responses are not stored, so there is no previous response to continue; "
                                    "send the whole conversation in 'input'",
            "conversation": "conversations are not stored; send the whole conversation in 'input'",
            "prompt": "stored prompt templates are not supported; send 'instructions' and 'input'"}
DROPPED_FIELDS = ("prompt_cache_key", "prompt_cache_retention", "service_tier", "max_tool_calls", "top_logprobs",
                  "stream_options", "context_management")
HANDLED = frozenset({"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
                     "max_output_tokens", "temperature", "top_p", "stream", "store", "include", "reasoning", "text",
                     "metadata", "user", "safety_identifier", "truncation", "background", *STATEFUL,
                     *DROPPED_FIELDS})
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


@dataclass
class ResponsesRequest:
    """The chat body, what was not sent, and the request fields a Response object repeats back."""
    chat: dict
    dropped: list[str]
    model: str
    stream: bool
    echo: dict
    tool_names: dict = field(default_factory=dict)   # chat function name -> (namespace, name), where they differ

    def call_name(self, chat_name: str) -> tuple[str, str | None]:
        """A chat function name as the Responses (name, namespace) the client defined."""
        namespace, name = self.tool_names.get(chat_name, (None, chat_name))
        return name, namespace


def translate_responses_request(body: object, *, provider: str | None = None) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object")
    dropped = Dropped()
    add_dropped = dropped.add
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("model", "expected a model ID such as 'deepseek/deepseek-v4-flash'; GET /v1/models lists them")
    _refuse_stateful(body)
    messages = chat_messages(body.get("input"), add_dropped, sent_name)
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise invalid("instructions", "expected a string")
    if instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    chat: dict = {"model": model, "messages": messages}
    echo: dict = {"instructions": instructions, "metadata": _metadata(body.get("metadata")), "store": False,
                  "truncation": "disabled", "parallel_tool_calls": body.get("parallel_tool_calls") is not False}
    _sampling(body, chat, echo)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid("stream", "expected a boolean")
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # response.completed carries usage
    tools, tool_names, echo["tools"] = _tools(body.get("tools"), add_dropped)
    tools = _tool_choice(body.get("tool_choice"), tools, chat, echo)
    if tools:
        chat["tools"] = [{"type": "function", "function": {k: v for k, v in tool.items() if k != "type"}}
                         for tool in tools]
    if body.get("parallel_tool_calls") is False and tools:
        chat["parallel_tool_calls"] = False
    _reasoning(body.get("reasoning"), provider or provider_of(model), chat, echo, add_dropped)
    _text(body.get("text"), chat, echo, add_dropped)
    for name in ("safety_identifier", "user"):
        if isinstance(body.get(name), str):
            chat["user"] = body[name]
    if body.get("truncation") not in (None, "disabled"):
        add_dropped("truncation")
    for name in list(DROPPED_FIELDS) + [n for n in body if n not in HANDLED]:
        if body.get(name) is not None:
            add_dropped(name)
    for value in _include(body.get("include")):
        add_dropped(f"include:{value}")
    return ResponsesRequest(chat=chat, dropped=list(dropped), model=model, stream=bool(stream), echo=echo,
                            tool_names=tool_names)


def _refuse_stateful(body: dict) -> None:
    if body.get("store") is True:
        raise invalid("store", "EtherGate does not store responses; send store: false (or omit it) and keep the "
                               "conversation on the client")
    if body.get("store") not in (None, False):
        raise invalid("store", "expected a boolean")
    if body.get("background") is True:
        raise invalid("background", "background responses need stored responses, which EtherGate does not keep; "
                                     "use stream: true for long answers")
    for name, why in STATEFUL.items():
        if body.get(name) is not None:
            raise invalid(name, why)


def _metadata(metadata: object) -> dict | None:
    if metadata is not None and (not isinstance(metadata, dict) or
                                 not all(isinstance(v, str) for v in metadata.values())):
        raise invalid("metadata", "expected an object of string values")
    return metadata


def _sampling(body: dict, chat: dict, echo: dict) -> None:
    cap = body.get("max_output_tokens")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise invalid("max_output_tokens", "expected a positive integer")
        chat["max_tokens"] = cap
    echo["max_output_tokens"] = cap
    for name, high in (("temperature", 2), ("top_p", 1)):
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
                raise invalid(name, f"expected a number between 0 and {high}")
            chat[name] = value
        echo[name] = value


def sent_name(namespace: object, name: str) -> str:
    """The chat function name for a Responses function `name` in `namespace` (None outside any)."""
    return chat_tool_name(f"{namespace}__{name}" if isinstance(namespace, str) and namespace else name)


def _tools(tools: object, add_dropped) -> tuple[list[dict], dict, list[dict]]:
    """The function tools to send (namespaces flattened), the client's names where sent ones differ, the echo."""
    if tools is None:
        return [], {}, []
    if not isinstance(tools, list):
        raise invalid("tools", "expected an array of tools")
    out, tool_names, echoed = [], {}, []
    for index, tool in enumerate(tools):
        path = f"tools[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise invalid(path, "expected a tool object with a 'type'")
        if tool["type"] == "namespace" and isinstance(tool.get("name"), str) and isinstance(tool.get("tools"), list):
            inner = [_function(t, f"{path}.tools[{i}]") for i, t in enumerate(tool["tools"])
                     if isinstance(t, dict) and t.get("type") == "function"]
            for function in inner:
                tool_names[sent_name(tool["name"], function["name"])] = (tool["name"], function["name"])
                out.append({**function, "name": sent_name(tool["name"], function["name"])})
            echoed.append(tool)
        elif tool["type"] == "function":
            function = _function(tool, path)
            echoed.append(function)
            if sent_name(None, function["name"]) != function["name"]:
                tool_names[sent_name(None, function["name"])] = (None, function["name"])
                function = {**function, "name": sent_name(None, function["name"])}
            out.append(function)
        else:
            add_dropped(f"tools:{tool['type']}")
    names = [function["name"] for function in out]
    if len(names) != len(set(names)):
        raise invalid("tools", "two function tools share a name (a namespace's tools are sent as "
                               "'<namespace>__<name>')")
    return out, tool_names, echoed


def _function(tool: dict, path: str) -> dict:
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise invalid(f"{path}.name", "expected the function name")
    parameters = tool.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise invalid(f"{path}.parameters", "expected a JSON Schema object")
    function = {"type": "function", "name": tool["name"],
                "parameters": parameters or {"type": "object", "properties": {}}}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return function


def _tool_choice(choice: object, tools: list[dict], chat: dict, echo: dict) -> list[dict]:
    """Sets chat's tool_choice; returns the tools to send (allowed_tools narrows them)."""
    echo["tool_choice"] = choice if choice is not None else "auto"
    if choice is None:
        return tools
    names = {tool["name"] for tool in tools}
    if isinstance(choice, str):
        if choice not in ("auto", "none", "required"):
            raise invalid("tool_choice", "expected 'auto', 'none', 'required' or an object")
        if tools:
            chat["tool_choice"] = choice
        elif choice == "required":
            raise invalid("tool_choice", "'required' needs at least one function tool in 'tools'")
        return tools
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        name = choice.get("name")
        if not isinstance(name, str) or sent_name(choice.get("namespace"), name) not in names:
            raise invalid("tool_choice.name", f"no function tool named {_shown(name)} is in 'tools'")
        chat["tool_choice"] = {"type": "function", "function": {"name": sent_name(choice.get("namespace"), name)}}
        return tools
    if kind == "allowed_tools":
        allowed = {sent_name(t.get("namespace"), t["name"]) for t in choice.get("tools") or []
                   if isinstance(t, dict) and isinstance(t.get("name"), str)}
        mode = choice.get("mode", "auto")
        if mode not in ("auto", "required") or not allowed <= names:
            raise invalid("tool_choice.tools", "expected function tools from 'tools' and mode 'auto' or 'required'")
        tools = [tool for tool in tools if tool["name"] in allowed]
        if tools:
            chat["tool_choice"] = mode
        return tools
    raise invalid("tool_choice", f"{_shown(kind)} tools are hosted by OpenAI and cannot be forced here; "
                                 "choose 'auto', 'none', 'required' or a function tool")


def _shown(value: object) -> str:
    return repr(value[:60]) if isinstance(value, str) else type(value).__name__


def _reasoning(reasoning: object, provider: str | None, chat: dict, echo: dict, add_dropped) -> None:
    echo["reasoning"] = None
    if reasoning is None:
        return
    if not isinstance(reasoning, dict):
        raise invalid("reasoning", "expected an object")
    effort = reasoning.get("effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise invalid("reasoning.effort", f"expected one of {', '.join(EFFORTS)}, but got {_shown(effort)}")
        if effort != "none":
            chat["reasoning_effort"] = reasoning_effort(provider, effort)
        switches = thinking_switches(provider, effort != "none")
        if not switches:
            add_dropped("reasoning.effort")
        chat.update(switches)
    if reasoning.get("summary") is not None or reasoning.get("generate_summary") is not None:
        add_dropped("reasoning.summary")
    echo["reasoning"] = {"effort": effort, "summary": None}


def _text(text: object, chat: dict, echo: dict, add_dropped) -> None:
    echo["text"] = {"format": {"type": "text"}}
    if text is None:
        return
    if not isinstance(text, dict):
        raise invalid("text", "expected an object")
    if text.get("verbosity") is not None:
        add_dropped("text.verbosity")
    output_format = text.get("format")
    if output_format is None:
        return
    kind = output_format.get("type") if isinstance(output_format, dict) else None
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        if not isinstance(output_format.get("name"), str) or not isinstance(output_format.get("schema"), dict):
            raise invalid("text.format", "a json_schema format needs a 'name' and a 'schema' object")
        spec = {k: output_format[k] for k in ("name", "schema", "strict", "description") if k in output_format}
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif kind != "text":
        raise invalid("text.format.type", "expected 'text', 'json_object' or 'json_schema'")
    echo["text"] = {"format": output_format}


def _include(include: object) -> list[str]:
    if include is None:
        return []
    if not isinstance(include, list) or not all(isinstance(value, str) for value in include):
        raise invalid("include", "expected an array of strings")
    return include
