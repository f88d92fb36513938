"""Which planner, key reader and default-model reader serve each tool."""
from __future__ import annotations

from .aider import aider_default, aider_stored_key, plan_aider
from .changes import read_text
from .claude_code import claude_code_default, claude_code_stored_key, plan_claude_code
from .codex import codex_default, plan_codex
from .dotenv import env_file_key
from .hermes import hermes_default, plan_hermes
from .layout import Layout
from .openclaw import openclaw_default, openclaw_stored_key, plan_openclaw
from .opencode import opencode_default, opencode_stored_key, plan_opencode
from .qwen_code import plan_qwen_code, qwen_code_default
from .targets import PROVIDER_ID

PLANNERS = {"qclaw": plan_openclaw, "openclaw": plan_openclaw, "hermes": plan_hermes, "qwen-code": plan_qwen_code,
            "opencode": plan_opencode, "aider": plan_aider, "claude-code": plan_claude_code, "codex": plan_codex}
KEY_READERS = {"qclaw": openclaw_stored_key, "openclaw": openclaw_stored_key, "hermes": env_file_key,
               "qwen-code": env_file_key, "opencode": opencode_stored_key, "aider": aider_stored_key,
               "claude-code": claude_code_stored_key, "codex": env_file_key}
DEFAULT_READERS = {"qclaw": openclaw_default, "openclaw": openclaw_default, "hermes": hermes_default,
                   "qwen-code": qwen_code_default, "opencode": opencode_default, "aider": aider_default,
                   "claude-code": claude_code_default, "codex": codex_default}
# How each tool spells an EtherGate model, for the "Default model" line.
MODEL_PREFIX = {"qclaw": PROVIDER_ID + "/", "openclaw": PROVIDER_ID + "/", "opencode": PROVIDER_ID + "/",
                "aider": "openai/"}


def stored_key(layout: Layout) -> str | None:
    """The EtherGate key already in the tool's files, so a refresh needs no --api-key."""
    return KEY_READERS[layout.target](layout)


def current_default(layout: Layout) -> str | None:
    """The EtherGate model the tool defaults to now, kept on a refresh unless --model says otherwise."""
    text = read_text(layout.config)
    if not text:
        return None
    return DEFAULT_READERS[layout.target](layout, text)
