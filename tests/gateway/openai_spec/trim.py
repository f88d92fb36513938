"""Rebuild openapi-trimmed.json from OpenAI's full spec: the response schemas the gateway answers with,
plus every schema they reference, unchanged.

    git show <commit>:openapi.json > /tmp/openapi.json
    python tests/gateway/openai_spec/trim.py /tmp/openapi.json <commit>
"""
import json
import sys
from pathlib import Path

ROOTS = ("CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ListModelsResponse", "Model",
         "ErrorResponse")
HERE = Path(__file__).resolve().parent


def referenced(node, found: set) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            referenced(value, found)
    elif isinstance(node, list):
        for value in node:
            referenced(value, found)


def trim(spec: dict, commit: str) -> dict:
    schemas = spec["components"]["schemas"]
    keep, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found: set = set()
        referenced(schemas[name], found)
        todo.extend(found - keep)
    return {"openapi": spec["openapi"], "info": {**spec["info"], "x-source": f"openai/openai-openapi@{commit}"},
            "components": {"schemas": {name: schemas[name] for name in sorted(keep)}}}


if __name__ == "__main__":
    source, commit = sys.argv[1], sys.argv[2]
    trimmed = trim(json.loads(Path(source).read_text(encoding="utf-8")), commit)
    (HERE / "openapi-trimmed.json").write_text(json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
