"""What the app class builds lazily or shares: URL builders give werkzeug's own URLs; templates compile once."""
from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import generate_csrf

from werkzeug.routing import Map, Rule
from werkzeug.exceptions import NotFound
from werkzeug.routing.converters import AnyConverter, NumberConverter, PathConverter

from ethergate import create_app
from ethergate.application import LazyBuildRule


def sample_value(converter):
    if isinstance(converter, NumberConverter):
        return 7
    if isinstance(converter, AnyConverter):
        return converter.items[0]
    return "a/b.txt" if isinstance(converter, PathConverter) else "abc"


def sample_values(rule: Rule) -> dict:
    return {name: sample_value(converter) for name, converter in rule._converters.items()}


def test_every_route_builds_the_url_a_plain_werkzeug_rule_builds(app):
    rules = list(app.url_map.iter_rules())
    assert rules and all(isinstance(rule, LazyBuildRule) for rule in rules)
    plain = Map([Rule(r.rule, endpoint=r.endpoint, methods=r.methods, defaults=r.defaults) for r in rules],
                merge_slashes=False, converters=app.url_map.converters)
    lazy_urls = app.url_map.bind("gate.test")
    plain_urls = plain.bind("gate.test")
    for rule in rules:
        values = sample_values(rule)
        for extra in ({}, {"page": 2}):  # known arguments, then an unknown one that becomes a query string
            method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            expected = plain_urls.build(rule.endpoint, {**values, **extra}, method=method)
            assert lazy_urls.build(rule.endpoint, {**values, **extra}, method=method) == expected
            assert lazy_urls.build(rule.endpoint, {**values, **extra}, method=method) == expected  # compiled now


def test_a_template_compiled_by_one_app_is_reused_by_the_next_and_renders_the_same(app, monkeypatch):
    context = {"error": NotFound(), "message": None}

    def page(flask_app) -> str:
        with flask_app.test_request_context("/missing"):
            return render_template("errors/error.html", **context).replace(generate_csrf(), "")  # new per request

    first = page(app)
    compiled = []
    monkeypatch.setattr(type(app.jinja_env), "compile", lambda *a, **k: compiled.append(a))
    assert page(create_app(dict(app.config))) == first
    assert compiled == []  # loaded from what the first app compiled
