"""The Flask class EtherGate runs on: what an app builds per instance that can be built later or shared.

URL rules' url_for builders are compiled on first use instead of when the app is created. Werkzeug compiles two builder functions per rule as it is added (parsing and compiling Python source),
about 80% of create_app: a server pays it once, but every test that makes an app paid it again for
rules it never builds a URL for. Matching is unchanged; a rule's builders are the same functions,
made by werkzeug itself, the first time url_for needs them.

Templates compiled by one app are kept for the next app in the same process, keyed by each template's
source checksum (so an edited template is compiled again): a server has one app, the tests make thousands.
"""
from __future__ import annotations

from flask import Flask
from jinja2 import BytecodeCache
from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    def _compile_builder(self, append_unknown: bool = True):
        name = "_build_unknown" if append_unknown else "_build"

        def build_once(rule: Rule, *args, **kwargs):
            built = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
            setattr(rule, name, built)  # later calls go straight to werkzeug's builder
            return built(*args, **kwargs)

        return build_once


class CompiledTemplates(BytecodeCache):
    """Compiled templates in this process's memory."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


class EtherGateFlask(Flask):
    url_rule_class = LazyBuildRule
    jinja_options = {**Flask.jinja_options, "bytecode_cache": CompiledTemplates()}
