"""URL rules whose url_for builders are compiled on first use instead of when the app is created.

Werkzeug compiles two builder functions per rule as it is added (parsing and compiling Python source),
about 80% of create_app: a server pays it once, but every test that makes an app paid it again for
rules it never builds a URL for. Matching is unchanged; a rule's builders are the same functions,
made by werkzeug itself, the first time url_for needs them.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    def _compile_builder(self, append_unknown: bool = True):
        name = "_build_unknown" if append_unknown else "_build"

        def build_once(rule: Rule, *args, **kwargs):
            built = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, name, built)  # later calls go straight to werkzeug's builder
            return built(*args, **kwargs)

        return build_once


class EtherGateFlask(Flask):
    url_rule_class = LazyBuildRule
