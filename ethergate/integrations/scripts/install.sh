#!/usr/bin/env bash
# EtherGate provider installer for QClaw, OpenClaw, Hermes, Qwen Code, opencode, aider, Claude Code and Codex.
#
#   curl -fsSL '__ETHERGATE_PUBLIC_URL__/console/skills/ethergate-provider/install.sh' \
#     | bash -s -- --target qclaw --api-key '<your-ethergate-key>' --locale en
#
# Options: --target qclaw|openclaw|hermes|qwen-code|opencode|aider|claude-code|codex, --api-key KEY, --locale en|zh, --home DIR (the tool's
# real home when it is not the standard one), --model ID (default model), --dry-run, --help.
# Rerun it to rotate the key or refresh models: EtherGate's config is replaced, other config is
# preserved, and every changed file is backed up beside itself as <file>.bak-<timestamp>.
#
# What it writes (checked against each tool's own source and docs):
# - OpenClaw: models.providers.ethergate in openclaw.json ($OPENCLAW_CONFIG_PATH, else
#   $OPENCLAW_STATE_DIR/openclaw.json, else ~/.openclaw/openclaw.json); agents.defaults.model.primary
#   only when unset or already EtherGate's; ethergate/<id> rows in agents.defaults.models only when
#   that map exists; providers.ethergate in each agents/*/agent/models.json cache, whose baseUrl and
#   apiKey would otherwise win. OpenClaw reads JSON5; the file is written back as JSON, so comments
#   are not kept (the backup keeps them, and the installer says so).
# - QClaw: the same, under the stateDir/configPath QClaw records in ~/.qclaw/qclaw.json (else ~/.qclaw).
# - Hermes: providers.ethergate and, when unset or already EtherGate's, model.provider/default in
#   $HERMES_HOME/config.yaml (else ~/.hermes), edited line by line so comments stay; the key as
#   ETHERGATE_API_KEY in $HERMES_HOME/.env; old EtherGate entries in custom_providers removed.
# - Qwen Code: modelProviders.ethergate, providerProtocol.ethergate "openai", and (when unset or already
#   EtherGate's) model.name and security.auth.selectedType "openai" in ~/.qwen/settings.json; the key
#   as ETHERGATE_API_KEY in ~/.qwen/.env; usage statistics and managed auto-memory switched off.
# - opencode: provider.ethergate (@ai-sdk/openai-compatible, every model with its context and output
#   limits), model/small_model when unset or already EtherGate's, autoupdate false and share disabled,
#   in $OPENCODE_CONFIG, else $XDG_CONFIG_HOME/opencode/opencode.json (else ~/.config/opencode).
# - aider: model openai/<id> (when unset or already EtherGate's), openai-api-base, openai-api-key,
#   check-update false and analytics-disable true in ~/.aider.conf.yml, edited line by line; context
#   and output limits and prices in ~/.aider.model.metadata.json.
# - Claude Code: the env block of $CLAUDE_CONFIG_DIR/settings.json (else ~/.claude/settings.json):
#   ANTHROPIC_BASE_URL (the server root), ANTHROPIC_AUTH_TOKEN, ANTHROPIC_MODEL,
#   ANTHROPIC_DEFAULT_HAIKU_MODEL, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1,
#   CLAUDE_CODE_MAX_CONTEXT_TOKENS; hasCompletedOnboarding in ~/.claude.json.
# - Codex: model_provider, model, model_context_window, [model_providers.ethergate] (wire_api =
#   "responses", env_key = ETHERGATE_API_KEY) and [analytics] enabled = false in $CODEX_HOME/config.toml
#   (else ~/.codex), edited line by line so comments stay; the key in $CODEX_HOME/.env, which Codex loads.
# - The EtherGate skill in <home>/skills/ethergate-provider (aider: ~/.aider/skills/ethergate-provider):
#   SKILL.md and refresh-models.sh.
#
# Needs bash, curl (to fetch this file) and Python 3 with its standard library. Hermes and aider
# bring their own Python, which is used when python3 is not on PATH; the other tools do not, so
# there Python 3 must be installed (python.org, or: brew install python / apt install python3).
set -euo pipefail

ETHERGATE_PUBLIC_URL=__ETHERGATE_PUBLIC_URL_SH__

target="" locale="en"
previous=""
for arg in "$@"; do
  case "$previous" in
    --target) target="$arg" ;;
    --locale) locale="$arg" ;;
  esac
  case "$arg" in
    --target=*) target="${arg#*=}" ;;
    --locale=*) locale="${arg#*=}" ;;
  esac
  previous="$arg"
done

usable_python() {
  [ -n "$1" ] && "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' >/dev/null 2>&1
}

launcher_python() {
  # Hermes and aider install into a venv whose interpreter their launcher names on its first line.
  local launcher first
  launcher="$(command -v "$1" 2>/dev/null || true)"
  if [ -n "$launcher" ] && IFS= read -r first < "$launcher" 2>/dev/null; then
    case "$first" in '#!/'*) echo "${first#\#!}" | awk '{print $1}'; return ;; esac
  fi
}

hermes_python() {
  local found
  found="$(launcher_python hermes)"
  [ -n "$found" ] && { echo "$found"; return; }
  local home="${HERMES_HOME:-$HOME/.hermes}"
  for candidate in "$home/hermes-agent/venv/bin/python" /usr/local/lib/hermes-agent/venv/bin/python; do
    [ -x "$candidate" ] && { echo "$candidate"; return; }
  done
}

find_python() {
  local candidates=("${ETHERGATE_PYTHON:-}")
  [ "$target" = "hermes" ] && candidates+=("$(hermes_python)")
  [ "$target" = "aider" ] && candidates+=("$(launcher_python aider)")
  candidates+=(python3 python)
  for candidate in "${candidates[@]}"; do
    # macOS ships a python3 stub that opens an installer dialog until the developer tools exist.
    if [ "$candidate" = python3 ] && [ "$(uname -s)" = Darwin ] && [ "$(command -v python3)" = /usr/bin/python3 ] \
        && ! xcode-select -p >/dev/null 2>&1; then
      continue
    fi
    if usable_python "$candidate"; then
      echo "$candidate"
      return
    fi
  done
}

python_bin="$(find_python)"
if [ -z "$python_bin" ]; then
  if [ "$locale" = "zh" ]; then
    echo "需要 Python 3（3.8 或更高版本）。请从 python.org 安装（或 brew install python / apt install python3），然后重新运行此命令。未做任何修改。" >&2
  else
    echo "Python 3 (3.8 or newer) is required. Install it from python.org (or: brew install python / apt install python3), then rerun this command. Nothing was changed." >&2
  fi
  exit 1
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/ethergate-provider.XXXXXX")"
trap 'rm -rf "$workdir"' EXIT
cat > "$workdir/ethergate_provider.py" <<'__ETHERGATE_ENGINE_END__'
__ETHERGATE_ENGINE__
__ETHERGATE_ENGINE_END__

status=0
"$python_bin" "$workdir/ethergate_provider.py" --base-url "$ETHERGATE_PUBLIC_URL" --shell sh "$@" || status=$?
exit "$status"
