"""Docs pages: `/docs` and `/docs/<slug>`, each rendered with this instance's URL and catalog."""
from __future__ import annotations

from flask import Blueprint, abort, current_app

from ..billing.topups import payment_provider
from ..catalog.readiness import model_readiness
from ..catalog.snapshot import get_snapshot
from ..console.shell.rendering import render
from ..console.snippets import LANGUAGES, example_model, snippets
from ..integrations import integration_commands
from . import samples
from .pages import BY_SLUG, OPERATOR_PAGES, PAGES

bp = Blueprint("docs", __name__, url_prefix="/docs")

PREFERRED = {
    "deepseek": "deepseek/deepseek-v4-flash",
    "qwen": "qwen/qwen-plus",
    "moonshot": "moonshot/kimi-k2.6",
}


@bp.after_request
def public_page(response):
    response.headers.setdefault("Cache-Control", "no-cache")
    response.vary.add("HX-Request")
    return response


def _pick(models: dict, provider: str | None = None, capability: str | None = None, prefer: str | None = None) -> str | None:
    if prefer and prefer in models and (capability is None or models[prefer].has(capability)):
        return prefer
    for model_id in sorted(models):
        info = models[model_id]
        if (provider is None or info.provider == provider) and (capability is None or info.has(capability)):
            return model_id
    return None


def docs_context() -> dict:
    """What every docs page may show: URLs, real model IDs and the samples built from them."""
    config = current_app.config
    public = config["PUBLIC_BASE_URL"].rstrip("/")
    base_url = public + "/v1"
    snapshot = get_snapshot()
    models = snapshot.models
    model = example_model()
    second = _pick(models, "qwen", prefer=PREFERRED["qwen"]) or model
    tool_model = _pick(models, capability="tools", prefer=model) or model
    stream_model = _pick(models, capability="streaming", prefer=second) or model
    catalog = [(info, *model_readiness(info, config)) for _id, info in sorted(models.items())]
    examples = {provider: _pick(models, provider, prefer=PREFERRED.get(provider)) for provider in snapshot.providers}
    return dict(
        public_url=public, base_url=base_url, model=model, second_model=second, tool_model=tool_model,
        stream_model=stream_model, catalog=catalog, provider_examples={k: v for k, v in examples.items() if v},
        providers=sorted(snapshot.providers.values(), key=lambda p: p.id),
        snippets=snippets(base_url, model), snippet_languages=LANGUAGES,
        stream_snippets=samples.streaming(base_url, stream_model),
        tool_snippets=samples.tool_calling(base_url, tool_model),
        headers_request=samples.headers_request(base_url, model), models_request=samples.models_request(base_url),
        messages_request=samples.messages_request(public, model), responses_request=samples.responses_request(base_url, model),
        errors=samples.error_examples(model), provider_env=samples.PROVIDER_ENV,
        integrations=integration_commands(public), currency=config["CURRENCY"], default_rpm=config["DEFAULT_RPM"],
        max_body_bytes=config["MAX_BODY_BYTES"], hold_ttl=config["HOLD_TTL_SECONDS"],
        payments_enabled=payment_provider(current_app) is not None, credits_contact=config.get("CREDITS_CONTACT"))


def _page(slug: str):
    page = BY_SLUG.get(slug)
    if page is None:
        abort(404)
    position = PAGES.index(page) if page in PAGES else None
    previous = PAGES[position - 1] if position else None
    following = PAGES[position + 1] if position is not None and position + 1 < len(PAGES) else None
    return render(page.template, page=page, pages=PAGES, operator_pages=OPERATOR_PAGES, previous=previous,
                  next=following, **docs_context())


@bp.get("", strict_slashes=False)
def index():
    return _page("")


@bp.get("/<topic>")
def page(topic: str):
    if not topic:
        abort(404)
    return _page(topic)
