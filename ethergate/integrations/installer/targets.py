"""The tools the installer configures, the names EtherGate uses in their configs, and its exit codes."""
from __future__ import annotations

PROVIDER_ID = "ethergate"
SKILL_NAME = "ethergate-provider"
KEY_ENV = "ETHERGATE_API_KEY"
PREFERRED_MODELS = ("deepseek/deepseek-v4-flash", "qwen/qwen-plus")
TARGETS = ("qclaw", "openclaw", "hermes", "qwen-code", "opencode", "aider", "claude-code", "codex")
TOOL_NAMES = {"qclaw": "QClaw", "openclaw": "OpenClaw", "hermes": "Hermes", "qwen-code": "Qwen Code",
              "opencode": "opencode", "aider": "aider", "claude-code": "Claude Code", "codex": "Codex"}
OPENCLAW_TARGETS = ("qclaw", "openclaw")
# Agent CLIs that speak the Messages and Responses surfaces; they make their home on first start.
AGENT_CLI_TARGETS = ("claude-code", "codex")
# The cheapest-output models first, for tools with a second, "small" model slot.
SMALL_MODELS = ("qwen/qwen-flash", "deepseek/deepseek-v4-flash")
EXIT_USAGE, EXIT_HOME, EXIT_KEY, EXIT_SERVER, EXIT_CONFIG = 2, 3, 4, 5, 6
