"""Code samples for the docs, filled with this instance's base URL and real model IDs.

Each function returns {"python": ..., "node": ..., "curl": ...} for `code_tabs`; the plain first request
is console.snippets' (the dashboard shows the same one).
"""
from __future__ import annotations

import json

from ..gateway.errors import GatewayError

STREAM_PYTHON = '''import os
from openai import OpenAI

client = OpenAI(
    api_key=os.environ["ETHERGATE_API_KEY"],
    base_url="{base_url}",
)
stream = client.chat.completions.create(
    model="{model}",
    messages=[{{"role": "user", "content": "Draft a product changelog"}}],
    stream=True,
    stream_options={{"include_usage": True}},
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
    if chunk.usage:
        print("\\n", chunk.usage)
'''

STREAM_NODE = '''import OpenAI from "openai";

const client = new OpenAI({{
  apiKey: process.env.ETHERGATE_API_KEY,
  baseURL: "{base_url}",
}});
const stream = await client.chat.completions.create({{
  model: "{model}",
  messages: [{{ role: "user", content: "Draft a product changelog" }}],
  stream: true,
  stream_options: {{ include_usage: true }},
}});
for await (const chunk of stream) {{
  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
  if (chunk.usage) console.log("\\n", chunk.usage);
}}
'''

STREAM_CURL = '''curl -N {base_url}/chat/completions \\
  -H "Authorization: Bearer $ETHERGATE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "model": "{model}",
    "messages": [{{"role": "user", "content": "Draft a product changelog"}}],
    "stream": true,
    "stream_options": {{"include_usage": true}}
  }}'
'''

TOOLS_PYTHON = '''import json
import os
from openai import OpenAI

client = OpenAI(
    api_key=os.environ["ETHERGATE_API_KEY"],
    base_url="{base_url}",
)
tools = [{{
    "type": "function",
    "function": {{
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {{
            "type": "object",
            "properties": {{"city": {{"type": "string"}}}},
            "required": ["city"],
        }},
    }},
}}]
messages = [{{"role": "user", "content": "What is the weather in Beijing?"}}]
first = client.chat.completions.create(model="{model}", messages=messages, tools=tools)
call = first.choices[0].message.tool_calls[0]
arguments = json.loads(call.function.arguments)

messages.append(first.choices[0].message)
messages.append({{"role": "tool", "tool_call_id": call.id,
                 "content": json.dumps({{"city": arguments["city"], "temperature_c": 21}})}})
final = client.chat.completions.create(model="{model}", messages=messages, tools=tools)
print(final.choices[0].message.content)
'''

TOOLS_NODE = '''import OpenAI from "openai";

const client = new OpenAI({{
  apiKey: process.env.ETHERGATE_API_KEY,
  baseURL: "{base_url}",
}});
const tools = [{{
  type: "function",
  function: {{
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {{
      type: "object",
      properties: {{ city: {{ type: "string" }} }},
      required: ["city"],
    }},
  }},
}}];
const messages = [{{ role: "user", content: "What is the weather in Beijing?" }}];
const first = await client.chat.completions.create({{ model: "{model}", messages, tools }});
const call = first.choices[0].message.tool_calls[0];
const args = JSON.parse(call.function.arguments);

messages.push(first.choices[0].message);
messages.push({{ role: "tool", tool_call_id: call.id,
                 content: JSON.stringify({{ city: args.city, temperature_c: 21 }}) }});
const final = await client.chat.completions.create({{ model: "{model}", messages, tools }});
console.log(final.choices[0].message.content);
'''

TOOLS_CURL = '''curl {base_url}/chat/completions \\
  -H "Authorization: Bearer $ETHERGATE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "model": "{model}",
    "messages": [{{"role": "user", "content": "What is the weather in Beijing?"}}],
    "tools": [{{
      "type": "function",
      "function": {{
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {{
          "type": "object",
          "properties": {{"city": {{"type": "string"}}}},
          "required": ["city"]
        }}
      }}
    }}]
  }}'
'''

HEADERS_CURL = '''curl -i {base_url}/chat/completions \\
  -H "Authorization: Bearer $ETHERGATE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -H "X-Request-Id: checkout-7f3a" \\
  -d '{{"model": "{model}", "messages": [{{"role": "user", "content": "ping"}}]}}'
'''

PROVIDER_ENV = '''ETHERGATE_DEEPSEEK_API_KEY=your-deepseek-key
ETHERGATE_QWEN_API_KEY=your-qwen-key
ETHERGATE_MOONSHOT_API_KEY=your-moonshot-key'''


def _fill(templates: dict[str, str], base_url: str, model: str) -> dict[str, str]:
    return {name: text.format(base_url=base_url, model=model) for name, text in templates.items()}


def streaming(base_url: str, model: str) -> dict[str, str]:
    return _fill({"python": STREAM_PYTHON, "node": STREAM_NODE, "curl": STREAM_CURL}, base_url, model)


def tool_calling(base_url: str, model: str) -> dict[str, str]:
    return _fill({"python": TOOLS_PYTHON, "node": TOOLS_NODE, "curl": TOOLS_CURL}, base_url, model)


def headers_request(base_url: str, model: str) -> str:
    return HEADERS_CURL.format(base_url=base_url, model=model)


MESSAGES_PYTHON = '''import os
import anthropic

client = anthropic.Anthropic(
    api_key=os.environ["ETHERGATE_API_KEY"],
    base_url="{root}",
)
message = client.messages.create(
    model="{model}",
    max_tokens=1024,
    messages=[{{"role": "user", "content": "Draft a product changelog"}}],
)
print(message.content[0].text)
print(message.usage)
'''

RESPONSES_PYTHON = '''import os
from openai import OpenAI

client = OpenAI(
    api_key=os.environ["ETHERGATE_API_KEY"],
    base_url="{base_url}",
)
response = client.responses.create(
    model="{model}",
    instructions="Be brief.",
    input="Draft a product changelog",
    max_output_tokens=1024,
)
print(response.output_text)
print(response.usage)
'''


def messages_request(public_url: str, model: str) -> str:
    """The Messages surface takes the server root: the anthropic SDK appends /v1/messages itself."""
    return MESSAGES_PYTHON.format(root=public_url, model=model)


def responses_request(base_url: str, model: str) -> str:
    return RESPONSES_PYTHON.format(base_url=base_url, model=model)


def models_request(base_url: str) -> str:
    return f'curl {base_url}/models \\\n  -H "Authorization: Bearer $ETHERGATE_API_KEY"\n'


# (status, code, type, param, provider, message): one example per documented error, in the gateway's words.
ERRORS = (
    (400, "invalid_request_error", "invalid_request_error", "messages", None,
     "Missing required parameter: 'messages'."),
    (400, "invalid_json", "invalid_request_error", None, None, "The request body is not valid JSON."),
    (401, "invalid_api_key", "authentication_error", None, None,
     "The Authorization bearer token is missing, revoked or unknown."),
    (402, "insufficient_credits", "insufficient_quota", None, None,
     "Insufficient credits: the workspace balance is ¥0.20 (¥0.20 available after in-flight requests) and "
     "this request may cost up to ¥0.33. Set max_tokens to 8000 or less to fit, or add credits."),
    (402, "key_spend_cap_exceeded", "insufficient_quota", None, None,
     "This API key reached its monthly spend cap of ¥50.00 (¥49.98 spent, ¥0.05 in flight). "
     "Raise the cap in the console or wait for next month."),
    (403, "model_not_allowed", "permission_error", "model", None,
     "This API key is not allowed to use {model}. A workspace owner can change the key's allowed models "
     "in the console."),
    (404, "model_not_found", "invalid_request_error", "model", None,
     "The model 'gpt-4o' does not exist. GET /v1/models lists the model IDs you can use."),
    (404, "request_not_found", "invalid_request_error", None, None,
     "No request 'req_0a1b2c' was made by this workspace. Request IDs are in the X-Request-Id response "
     "header and in the request_id of error bodies."),
    (413, "request_too_large", "invalid_request_error", None, None,
     "The request body is larger than 16777216 bytes."),
    (429, "rate_limit_exceeded", "rate_limit_error", None, None,
     "This API key exceeded its limit of 60 requests per minute. Retry after 12 s."),
    (429, "tokens_rate_limit_exceeded", "rate_limit_error", None, None,
     "This API key used its 100000 tokens per minute. Retry after 30 s."),
    (429, "provider_rate_limited", "rate_limit_error", None, "{provider}",
     "The upstream provider ({provider}) is rate limiting EtherGate for {model}. This is not your key's limit; "
     "retry after 2 s."),
    (502, "provider_request_failed", "api_error", None, "{provider}",
     "The upstream provider failed for {model} (unavailable right now: {model}). Retry later; support can "
     "trace this request by its ID."),
    (503, "model_not_ready", "api_error", "model", None,
     "{model} is not ready: provider {provider} is not configured: {setting} is not set."),
    (503, "rate_limiter_unavailable", "api_error", None, None,
     "The rate limiter is unavailable, so requests are refused until it recovers. Retry shortly."),
)


def error_examples(model: str, request_id: str = "req_4f9c2a7d0e1b4c3a") -> list[dict]:
    """Each documented error with the JSON body the gateway sends, built by the gateway's own class."""
    provider = model.split("/", 1)[0]
    names = {"model": model, "provider": provider, "setting": f"ETHERGATE_{provider.upper()}_API_KEY"}
    examples = []
    for status, code, kind, param, who, message in ERRORS:
        error = GatewayError(status, code, message.format(**names), kind, param,
                             provider=who.format(**names) if who else None)
        examples.append({"status": status, "code": code,
                         "body": json.dumps(error.body(request_id), indent=2, ensure_ascii=False)})
    return examples
