"""Hermes: providers.ethergate and model in config.yaml, edited line by line, and the key in its .env."""
from __future__ import annotations

from pathlib import Path

from .changes import Change, read_text
from .dotenv import dotenv_change
from .layout import Layout
from .messages import Abort
from .targets import EXIT_CONFIG, KEY_ENV, PROVIDER_ID
from .yaml_editor import YAMLDocument, YAMLEditError, is_content, is_empty_inline, without_comment, yaml_quote, yaml_scalar


def hermes_provider(base_url: str, models: list[dict], default_model: str) -> dict:
    return {"name": "EtherGate", "api": base_url.rstrip("/") + "/v1", "key_env": KEY_ENV,
            "transport": "chat_completions", "default_model": default_model,
            "models": {m["id"]: {"context_length": int(m.get("context_length") or 0) or 128000} for m in models}}


def hermes_provider_lines(entry: dict, unit: int) -> list[str]:
    pad = " " * unit
    lines = [f"{PROVIDER_ID}:"]
    for key in ("name", "api", "key_env", "transport", "default_model"):
        lines.append(f"{pad}{key}: {yaml_quote(entry[key])}")
    lines.append(f"{pad}models:")
    for model_id, meta in entry["models"].items():
        lines.append(f"{pad * 2}{yaml_quote(model_id)}:")
        lines.extend(f"{pad * 3}{key}: {yaml_quote(value)}" for key, value in meta.items())
    return lines


def hermes_read_model(doc: YAMLDocument) -> tuple[str | None, str | None]:
    """(provider, default) of the top-level `model` setting; a plain string is a default model."""
    found = doc.top_block("model")
    if found is None:
        return None, None
    start, end, rest = found
    if not is_empty_inline(rest):
        if without_comment(rest).startswith(("{", "[", "|", ">", "&", "*", "!")):
            raise YAMLEditError("model: is not written as a plain value or a block mapping")
        return None, yaml_scalar(rest)
    _, rows = doc.children(start, end)
    values = {key: yaml_scalar(inline) for key, _, _, inline in rows}
    return values.get("provider"), values.get("default") or values.get("model")


def hermes_merge(text: str, entry: dict, take_model: bool, base_url: str) -> str:
    """config.yaml with providers.ethergate replaced, model pointed at it when allowed, and old
    EtherGate custom_providers entries removed; every other line is left as it was."""
    doc = YAMLDocument(text)
    _drop_custom_providers(doc, base_url)
    found = doc.top_block("providers")
    if found is None:
        _append_block(doc, "providers", ["  " + line for line in hermes_provider_lines(entry, 2)])
    elif is_empty_inline(found[2]):
        start, end, _ = found
        unit, rows = doc.children(start, end)
        block = [" " * unit + line for line in hermes_provider_lines(entry, unit)]
        mine = [row for row in rows if row[0] == PROVIDER_ID]
        if mine:
            doc.lines[mine[0][1]:mine[0][2]] = block
        else:
            at = rows[-1][2] if rows else start + 1
            doc.lines[at:at] = block
        doc.lines[start] = "providers:"
    else:
        raise YAMLEditError("providers: is written in flow style")
    if take_model:
        _set_model(doc, entry["default_model"])
    return doc.text()


def _append_block(doc: YAMLDocument, key: str, body: list[str]) -> None:
    if doc.lines and doc.lines[-1].strip():
        doc.lines.append("")
    doc.lines.append(f"{key}:")
    doc.lines.extend(body)


def _drop_custom_providers(doc: YAMLDocument, base_url: str) -> None:
    found = doc.top_block("custom_providers")
    if found is None or not is_empty_inline(found[2]):
        return
    start, end, _ = found
    items = doc.sequence_items(start, end)
    doomed = [item for item in items if _is_ethergate_custom(doc.item_scalars(*item), base_url)]
    for first, stop in reversed(doomed):
        del doc.lines[first:stop]
    if doomed and len(doomed) == len(items):
        doc.lines[start] = "custom_providers: []"


def _is_ethergate_custom(values: dict, base_url: str) -> bool:
    name = str(values.get("name") or "").strip().lower()
    url = str(values.get("base_url") or values.get("url") or values.get("api") or "").strip().rstrip("/")
    return name in (PROVIDER_ID, "custom:" + PROVIDER_ID) or (bool(url) and url.startswith(base_url.rstrip("/")))


def _set_model(doc: YAMLDocument, default_model: str) -> None:
    wanted = {"provider": PROVIDER_ID, "default": default_model}
    found = doc.top_block("model")
    if found is None:
        _append_block(doc, "model", [f"  {key}: {yaml_quote(value)}" for key, value in wanted.items()])
        return
    start, end, _ = found
    if not any(is_content(line) for line in doc.lines[start + 1:end]):
        doc.lines[start:end] = ["model:"] + [f"  {key}: {yaml_quote(value)}" for key, value in wanted.items()]
        return
    unit, rows = doc.children(start, end)
    present = {key: (first, stop) for key, first, stop, _ in rows}
    at = rows[-1][2]
    # Insert after every row first, then replace bottom-up, so no index moves under another.
    doc.lines[at:at] = [f"{' ' * unit}{key}: {yaml_quote(value)}" for key, value in wanted.items() if key not in present]
    for key, (first, stop) in sorted(present.items(), key=lambda item: -item[1][0]):
        if key in wanted:
            doc.lines[first:stop] = [f"{' ' * unit}{key}: {yaml_quote(wanted[key])}"]


def plan_hermes(layout: Layout, base_url: str, api_key: str, models: list[dict], default_model: str) -> tuple[list[Change], str | None]:
    old = read_text(layout.config) or ""
    entry = hermes_provider(base_url, models, default_model)
    try:
        provider, default = hermes_read_model(YAMLDocument(old))
        taken = str(provider or "").strip().lower() in (PROVIDER_ID, "custom:" + PROVIDER_ID)
        unset = not default and str(provider or "").strip().lower() in ("", "auto")
        new = hermes_merge(old, entry, taken or unset, base_url)
    except YAMLEditError as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=layout.config, detail=error) from None
    _verify_yaml(layout.config, old, new, entry, taken or unset, base_url)
    changes = [Change(layout.config, new)] if new != old else []
    changes += dotenv_change(layout, api_key)
    kept = None if (taken or unset) else f"{provider}/{default}" if provider and default else (default or provider)
    return changes, kept


def _verify_yaml(path: Path, old: str, new: str, entry: dict, took_model: bool, base_url: str) -> None:
    """Where PyYAML is at hand (Hermes' own interpreter has it), prove the edit changed only
    EtherGate's settings; the edit itself never depends on it, so every machine writes the same."""
    try:
        import yaml
    except ImportError:
        return
    try:
        before, after = yaml.safe_load(old) or {}, yaml.safe_load(new) or {}
    except yaml.YAMLError as error:
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail=str(error).splitlines()[0]) from None
    expected = dict(before) if isinstance(before, dict) else {}
    providers = dict(expected.get("providers") or {})
    providers[PROVIDER_ID] = entry
    expected["providers"] = providers
    customs = expected.get("custom_providers")
    if isinstance(customs, list):
        expected["custom_providers"] = [c for c in customs if not (isinstance(c, dict) and _is_ethergate_custom(c, base_url))]
    if took_model:
        model = expected.get("model")
        model = dict(model) if isinstance(model, dict) else {}
        model.update(provider=PROVIDER_ID, default=entry["default_model"])
        expected["model"] = model
    if _normalized(after) != _normalized(expected):
        raise Abort(EXIT_CONFIG, "parse_error", path=path, detail="the edit could not be verified")


def _normalized(value):
    if isinstance(value, dict):
        return {str(k): _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def hermes_default(layout: Layout, text: str) -> str | None:
    try:
        provider, default = hermes_read_model(YAMLDocument(text))
    except YAMLEditError:
        return None
    return default if str(provider or "").lower() in (PROVIDER_ID, "custom:" + PROVIDER_ID) else None
