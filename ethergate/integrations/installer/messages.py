"""What the installer tells the user, in English and Chinese, and the failure that carries a message."""
from __future__ import annotations

MESSAGES = {
    "en": {
        "unknown_target": "Unknown target {target!r}: use one of qclaw, openclaw, hermes, qwen-code, opencode, aider, claude-code, codex.",
        "bad_locale": "Unknown locale {locale!r}: use en or zh.",
        "bad_key": "The API key looks malformed: paste the whole cr_... key.",
        "no_key": "No --api-key given and no EtherGate key is stored in {path}: rerun with --api-key.",
        "missing_home": "{tool} home not found at {path}. Run {tool} once, or pass --home DIR pointing at its real home.",
        "not_writable": "Cannot write {path}: permission denied. Nothing was changed.",
        "checking": "Checking the key against {url} ...",
        "rejected": "The API key was rejected (401): it is wrong, revoked or expired. Create a key in the EtherGate console and rerun with --api-key.",
        "server_error": "EtherGate answered {status} for {url}: {detail}",
        "unreachable": "Cannot reach {url}: {detail}",
        "no_models": "This key can use no models: check the key's model limits in the console.",
        "unknown_model": "Model {model!r} is not available to this key. Available: {available}",
        "accepted": "Key accepted: {count} models available.",
        "parse_error": "Cannot read {path}: {detail}. Fix the file or restore a backup; nothing was changed.",
        "readonly": "OpenClaw config is read-only here ({var}=1); nothing was changed.",
        "include": "{path} uses $include under {where}: add the EtherGate provider there by hand; nothing was changed.",
        "would_write": "Would update {path}",
        "wrote": "Updated {path}",
        "backup": "  backup: {path}",
        "unchanged": "Already up to date: {path}",
        "comments_lost": "Note: comments in {path} were not preserved; the original is kept at {backup}.",
        "default_set": "Default model: {model}",
        "default_kept": "Default model left as {model} (not EtherGate's); pick an EtherGate model in {tool} to use one.",
        "dry_run": "Dry run: nothing was written.",
        "nothing": "Nothing to change.",
        "write_failed": "Writing {path} failed: {detail}. Files written in this run were restored.",
        "restart_openclaw": "Restart OpenClaw to load it: openclaw gateway restart (or stop and start it).",
        "restart_qclaw": "Quit and reopen QClaw to load it.",
        "restart_hermes": "Start a new Hermes session (exit and run hermes again; for the gateway: hermes gateway restart).",
        "restart_qwen-code": "Start a new Qwen Code session (exit and run qwen again); /model lists the EtherGate models.",
        "restart_opencode": "Start opencode again; /models lists the EtherGate models. To stop it fetching the public model list, set OPENCODE_DISABLE_MODELS_FETCH=1 in your shell.",
        "restart_aider": "Run aider again from any directory; it reads ~/.aider.conf.yml.",
        "skill_hint": "Then ask the EtherGate skill to refresh models whenever the catalog changes.",
        "restart_claude-code": "Start a new Claude Code session (run claude again) to load it.",
        "restart_codex": "Start a new Codex session (run codex again) to load it; the key is in {path}.",
    },
    "zh": {
        "unknown_target": "未知的目标 {target!r}：请使用 qclaw、openclaw、hermes、qwen-code、opencode、aider、claude-code 或 codex。",
        "bad_locale": "未知的语言 {locale!r}：请使用 en 或 zh。",
        "bad_key": "API 密钥格式不正确：请粘贴完整的 cr_... 密钥。",
        "no_key": "未提供 --api-key，且 {path} 中没有已保存的 EtherGate 密钥：请加上 --api-key 重新运行。",
        "missing_home": "在 {path} 未找到 {tool} 的配置目录。请先运行一次 {tool}，或用 --home 指向它的实际目录。",
        "not_writable": "无法写入 {path}：权限不足。未做任何修改。",
        "checking": "正在通过 {url} 验证密钥……",
        "rejected": "API 密钥被拒绝（401）：密钥错误、已撤销或已过期。请在 EtherGate 控制台创建密钥后用 --api-key 重新运行。",
        "server_error": "EtherGate 对 {url} 返回 {status}：{detail}",
        "unreachable": "无法连接 {url}：{detail}",
        "no_models": "此密钥没有可用的模型：请在控制台检查该密钥的模型限制。",
        "unknown_model": "此密钥不能使用模型 {model!r}。可用模型：{available}",
        "accepted": "密钥有效：共 {count} 个可用模型。",
        "parse_error": "无法读取 {path}：{detail}。请修复该文件或恢复备份；未做任何修改。",
        "readonly": "此处 OpenClaw 配置为只读（{var}=1）；未做任何修改。",
        "include": "{path} 在 {where} 下使用了 $include：请手动在那里添加 EtherGate 提供方；未做任何修改。",
        "would_write": "将更新 {path}",
        "wrote": "已更新 {path}",
        "backup": "  备份：{path}",
        "unchanged": "无需更新：{path}",
        "comments_lost": "注意：{path} 中的注释未被保留；原文件保存在 {backup}。",
        "default_set": "默认模型：{model}",
        "default_kept": "默认模型保持为 {model}（不是 EtherGate 的模型）；如需使用，请在 {tool} 中选择 EtherGate 模型。",
        "dry_run": "试运行：未写入任何文件。",
        "nothing": "没有需要修改的内容。",
        "write_failed": "写入 {path} 失败：{detail}。本次已写入的文件均已恢复。",
        "restart_openclaw": "重启 OpenClaw 以加载配置：openclaw gateway restart（或先停止再启动）。",
        "restart_qclaw": "退出并重新打开 QClaw 以加载配置。",
        "restart_hermes": "开启新的 Hermes 会话（退出后重新运行 hermes；网关请运行 hermes gateway restart）。",
        "restart_qwen-code": "开启新的 Qwen Code 会话（退出后重新运行 qwen）；/model 会列出 EtherGate 模型。",
        "restart_opencode": "重新启动 opencode；/models 会列出 EtherGate 模型。如不希望它获取公共模型列表，请在 shell 中设置 OPENCODE_DISABLE_MODELS_FETCH=1。",
        "restart_aider": "在任意目录重新运行 aider；它会读取 ~/.aider.conf.yml。",
        "skill_hint": "之后模型目录有变化时，可让 EtherGate 技能刷新模型。",
        "restart_claude-code": "开启新的 Claude Code 会话（重新运行 claude）以加载配置。",
        "restart_codex": "开启新的 Codex 会话（重新运行 codex）以加载配置；密钥保存在 {path}。",
    },
}


class Abort(Exception):
    """A user-facing failure: a localized message and the exit code that goes with it."""

    def __init__(self, code: int, key: str, **fields):
        super().__init__(key)
        self.code, self.key, self.fields = code, key, fields


def say(locale: str, key: str, **fields) -> str:
    return MESSAGES[locale][key].format(**fields)
