"""First-request code samples (Python, Node, curl) for a real model of this instance's catalog."""
from __future__ import annotations

import json

from ..catalog.snapshot import get_snapshot

PREFERRED_MODEL = "deepseek/deepseek-v4-flash"
FALLBACK_MODEL = "deepseek/deepseek-chat"
LANGUAGES = (("python", "Python"), ("node", "Node.js"), ("curl", "curl"))

PYTHON = '''import os
from openai import OpenAI

client = OpenAI(
    api_key=os.environ["ETHERGATE_API_KEY"],
    base_url="{base_url}",
)
completion = client.chat.completions.create(
    model="{model}",
    messages=[
        {{"role": "user", "content": "Write a launch checklist"}},
    ],
)
print(completion.choices[0].message.content)
'''

NODE = '''import OpenAI from "openai";

const client = new OpenAI({{
  apiKey: process.env.ETHERGATE_API_KEY,
  baseURL: "{base_url}",
}});
const completion = await client.chat.completions.create({{
  model: "{model}",
  messages: [
    {{ role: "user", content: "Write a launch checklist" }},
  ],
}});
console.log(completion.choices[0]?.message?.content);
'''

CURL = '''curl {base_url}/chat/completions \\
  -H "Authorization: Bearer $ETHERGATE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{{
    "model": "{model}",
    "messages": [
      {{"role": "user", "content": "Write a launch checklist"}}
    ]
  }}'
'''


def example_model() -> str:
    """The preferred model when the catalog has it, else the first active model, else a well-known ID."""
    try:
        models = get_snapshot().models
    except Exception:  # noqa: BLE001  (a sample on a page must not take the page down with the catalog)
        return FALLBACK_MODEL
    if PREFERRED_MODEL in models:
        return PREFERRED_MODEL
    return min(models) if models else FALLBACK_MODEL


def snippets(base_url: str, model: str) -> dict[str, str]:
    values = {"base_url": base_url, "model": model}
    return {"python": PYTHON.format(**values), "node": NODE.format(**values), "curl": CURL.format(**values)}


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def request_snippets(base_url: str, body: dict) -> dict[str, str]:
    """The playground's request as Python, Node and curl code: the same body, the user's base URL."""
    messages = json.dumps(body["messages"], ensure_ascii=False, indent=2)
    options = {name: body[name] for name in ("temperature", "max_tokens") if body.get(name) is not None}
    py_options = "".join(f"\n    {name}={json.dumps(value)}," for name, value in options.items())
    js_options = "".join(f"\n  {name}: {json.dumps(value)}," for name, value in options.items())
    python = (f'import os\nfrom openai import OpenAI\n\nclient = OpenAI(\n'
              f'    api_key=os.environ["ETHERGATE_API_KEY"],\n'
              f'    base_url={json.dumps(base_url)},\n)\nstream = client.chat.completions.create(\n'
              f'    model={json.dumps(body["model"])},\n    messages={_indent(messages, 4)},{py_options}\n'
              f'    stream=True,\n)\nfor chunk in stream:\n    if chunk.choices and chunk.choices[0].delta.content:\n'
              f'        print(chunk.choices[0].delta.content, end="", flush=True)\nprint()\n')
    node = (f'import OpenAI from "openai";\n\nconst client = new OpenAI({{\n'
            f'  apiKey: process.env.ETHERGATE_API_KEY,\n'
            f'  baseURL: {json.dumps(base_url)},\n}});\nconst stream = await client.chat.completions.create({{\n'
            f'  model: {json.dumps(body["model"])},\n  messages: {_indent(messages, 2)},{js_options}\n'
            f'  stream: true,\n}});\n'
            f'for await (const chunk of stream) {{\n'
            f'  process.stdout.write(chunk.choices[0]?.delta?.content ?? "");\n}}\n')
    payload = json.dumps({"model": body["model"], "messages": body["messages"], **options, "stream": True},
                         ensure_ascii=False, indent=2).replace("'", "'\\''")
    curl = (f'curl -N {base_url}/chat/completions \\\n  -H "Authorization: Bearer $ETHERGATE_API_KEY" \\\n'
            f'  -H "Content-Type: application/json" \\\n  -d \'{_indent(payload, 2)}\'\n')
    return {"python": python, "node": node, "curl": curl}
