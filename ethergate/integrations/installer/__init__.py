"""EtherGate provider installer for QClaw, OpenClaw, Hermes, Qwen Code, opencode, aider, Claude Code and Codex:
the merge engine.

Both install.sh and install.ps1 run this one program, and the EtherGate skill keeps a copy of it
to refresh models later, so every platform makes the same decisions. Python standard library only.
The source is a package of small modules; the console serves it assembled into this one file.

Formats, as verified against the tools' own sources and docs:
- OpenClaw: JSON5 config at $OPENCLAW_CONFIG_PATH, else $OPENCLAW_STATE_DIR/openclaw.json, else
  ~/.openclaw/openclaw.json (docs/help/environment.md). Custom providers live under
  models.providers.<id> {baseUrl, apiKey, api, models[{id, name, reasoning, input, cost{input,
  output, cacheRead, cacheWrite}, contextWindow, maxTokens}]} (docs/gateway/config-tools/
  custom-providers.md). Agent caches <state>/agents/<id>/agent/models.json hold {"providers": ...}
  written as 2-space JSON, and their non-empty baseUrl/apiKey win over the config, so ours are
  replaced there too. Shared skills load from <state>/skills/<name>/SKILL.md (docs/tools/skills.md).
- QClaw: OpenClaw under its own state dir; the app writes ~/.qclaw/qclaw.json {stateDir,
  configPath, cli{nodeBinary, openclawMjs}} on every start (QClaw's writeQClawMeta).
- Hermes: $HERMES_HOME, else ~/.hermes (%LOCALAPPDATA%\\hermes on Windows) (hermes_constants.py).
  config.yaml providers.<id> {name, api, key_env, transport, default_model, models{<id>:
  {context_length}}} (hermes_cli/config.py _normalize_custom_provider_entry, runtime_provider.py
  _get_named_custom_provider); model {provider, default}; the key in <home>/.env, which Hermes loads
  over the shell environment (hermes_cli/env_loader.py); skills in <home>/skills/<name>/SKILL.md.
- Qwen Code: ~/.qwen/settings.json (JSON with comments; Qwen Code migrates and rewrites it on start):
  modelProviders.<id> [{id, name, baseUrl, envKey, generationConfig{contextWindowSize,
  samplingParams{max_tokens}}}], providerProtocol.<id> "openai", security.auth.selectedType,
  model.name; the key itself in ~/.qwen/.env, which Qwen Code loads; privacy.usageStatisticsEnabled
  and memory.enableManagedAutoMemory off. Skills in ~/.qwen/skills/<name>/SKILL.md.
- opencode: $OPENCODE_CONFIG, else $XDG_CONFIG_HOME/opencode/opencode.json (~/.config/opencode):
  provider.<id> {npm "@ai-sdk/openai-compatible", name, options{baseURL, apiKey}, models{<id>:
  {name, limit{context, output}, reasoning, tool_call, attachment}}}, model and small_model
  "<provider>/<model>", autoupdate false, share disabled. Skills in <dir>/skills/<name>/SKILL.md.
- aider: ~/.aider.conf.yml top-level keys model "openai/<id>", openai-api-base, openai-api-key,
  check-update false, analytics-disable true; context and output limits in ~/.aider.model.metadata.json.
- Claude Code: $CLAUDE_CONFIG_DIR, else ~/.claude. settings.json's `env` block sets the variables it
  reads at start (ANTHROPIC_BASE_URL is the server root: it appends /v1/messages itself); the
  onboarding flag lives in ~/.claude.json (in the config dir when CLAUDE_CONFIG_DIR is set).
- Codex: $CODEX_HOME, else ~/.codex. config.toml names a model provider whose key is read from the
  environment variable `env_key`; Codex loads <home>/.env into its environment at start.
"""
