"""Tool homes as users have them: other providers, comments, their own defaults, stale caches."""
from __future__ import annotations

import json
from pathlib import Path

OPENCLAW_CONFIG = """// OpenClaw config, edited by hand
{
  models: {
    mode: 'merge',
    providers: {
      'custom-proxy': {
        baseUrl: "http://localhost:4000/v1",
        apiKey: 'LITELLM_KEY',
        api: "openai-completions",
        models: [{ id: "llama-3.1-8b", name: 'Llama 3.1 8B', contextWindow: 128000, maxTokens: 32000, }],
      },
      ethergate: { baseUrl: "http://old.example/v1", apiKey: "cr_stale_key_0000", api: "openai-completions", models: [] },
    },
  },
  agents: {
    defaults: {
      workspace: "~/.openclaw/workspace",
      model: { primary: "custom-proxy/llama-3.1-8b", fallbacks: ["ethergate/deepseek/deepseek-chat"] },
      models: { "custom-proxy/llama-3.1-8b": { alias: "llama" }, "ethergate/retired-model": {}, },
    },
  },
  /* who may talk to the bot */
  channels: { whatsapp: { allowFrom: ["+15555550123"], }, },
}
"""

STALE_CACHE = {"providers": {
    "ethergate": {"baseUrl": "http://old.example/v1", "apiKey": "cr_stale_key_0000", "api": "openai-completions",
                  "models": []},
    "openrouter": {"baseUrl": "https://openrouter.example/api/v1", "apiKey": "sk-or-keep", "models": []},
}}
OTHER_CACHE = {"providers": {"openrouter": {"baseUrl": "https://openrouter.example/api/v1", "apiKey": "sk-or"}}}


def openclaw_home(root: Path, config: str = OPENCLAW_CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "openclaw.json").write_text(config)
    for agent, cache in (("main", STALE_CACHE), ("work", OTHER_CACHE)):
        (root / "agents" / agent / "agent").mkdir(parents=True)
        (root / "agents" / agent / "agent" / "models.json").write_text(json.dumps(cache, indent=2) + "\n")
    return root


HERMES_CONFIG = """# Hermes config
model:
  default: anthropic/claude-sonnet-4
  provider: openrouter   # my main provider
providers:
  local-llm:
    name: Local
    api: http://localhost:8080/v1
    default_model: qwen3
  ethergate:
    name: EtherGate (old)
    api: http://old.example/v1
    key_env: ETHERGATE_API_KEY
custom_providers:
- name: EtherGate
  base_url: http://old.example/v1
  api_key: cr_stale_key_0000
- name: Other
  base_url: http://other.example/v1
toolsets:
- hermes-cli
agent:
  max_turns: 90   # keep this
_config_version: 33
"""

HERMES_ENV = """OPENROUTER_API_KEY=sk-or-123
# a comment the user wrote
ETHERGATE_API_KEY=cr_stale_key_0000
export OTHER_SETTING=1
"""


def hermes_home(root: Path, config: str = HERMES_CONFIG, env: str = HERMES_ENV) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(config)
    (root / ".env").write_text(env)
    return root


def strip_ethergate(config: dict) -> dict:
    """An OpenClaw config without the parts the installer owns."""
    config = json.loads(json.dumps(config))
    config.get("models", {}).get("providers", {}).pop("ethergate", None)
    allow = config.get("agents", {}).get("defaults", {}).get("models")
    if isinstance(allow, dict):
        for name in [n for n in allow if n.startswith("ethergate/")]:
            del allow[name]
    return config


QWEN_SETTINGS = """{
  // my Qwen Code settings
  "$version": 4,
  "ui": {"theme": "GitHub"},
  "modelProviders": {
    "openai": [{"id": "gpt-4o", "name": "GPT-4o", "envKey": "OPENAI_API_KEY"}],
    "ethergate": [{"id": "retired/model", "envKey": "ETHERGATE_API_KEY"}]
  },
  "tools": {"approvalMode": "default"}
}
"""


def qwen_home(root: Path, settings: str | None = QWEN_SETTINGS, env: str = "OPENAI_API_KEY=sk-keep\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if settings is not None:
        (root / "settings.json").write_text(settings)
    (root / ".env").write_text(env)
    return root


OPENCODE_CONFIG = """{
  "$schema": "https://opencode.ai/config.json",
  "theme": "tokyonight",
  "provider": {
    "ollama": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "http://localhost:11434/v1"},
               "models": {"llama3": {"name": "Llama 3"}}},
    "ethergate": {"npm": "@ai-sdk/openai-compatible", "options": {"baseURL": "http://old.example/v1",
                  "apiKey": "cr_stale_key_0000"}, "models": {"retired/model": {}}}
  },
  "model": "ethergate/retired/model",
  "keybinds": {"leader": "ctrl+x"}
}
"""


def opencode_home(root: Path, config: str | None = OPENCODE_CONFIG) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (root / "opencode.json").write_text(config)
    return root


AIDER_CONF = """# my aider settings
dark-mode: true   # easier on the eyes
openai-api-base: http://old.example/v1
auto-commits: false
"""
