"""First-request code samples (Python, Node, curl) for a real model of this instance's catalog."""
from __future__ import annotations

from ..catalog.snapshot import get_snapshot
from ..extensions import db

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
        db.session.rollback()
        return FALLBACK_MODEL
    if PREFERRED_MODEL in models:
        return PREFERRED_MODEL
    return min(models) if models else FALLBACK_MODEL


def snippets(base_url: str, model: str) -> dict[str, str]:
    values = {"base_url": base_url, "model": model}
    return {"python": PYTHON.format(**values), "node": NODE.format(**values), "curl": CURL.format(**values)}
