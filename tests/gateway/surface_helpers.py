"""Shared by the surface translation tests: relay-shaped chunks and SDK clients that read given bytes."""
import json

import httpx2

from ethergate.gateway.providers.adapters import StreamTranslator

COMPLETION_ID = "chatcmpl-3f1c2a"


def provider_chunk(delta: dict | None = None, finish: str | None = None, usage: dict | None = None) -> dict:
    """One DeepSeek-style upstream chunk (usage rides on the finish chunk, as DeepSeek sends it)."""
    choices = [] if delta is None and finish is None else [
        {"index": 0, "delta": delta or {}, "finish_reason": finish, "logprobs": None}]
    return {"id": COMPLETION_ID, "object": "chat.completion.chunk", "created": 1780000000,
            "model": "deepseek-flash", "choices": choices, "usage": usage}


def usage(prompt=120, completion=40, cached=100, reasoning=12) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning}}


def relay_chunks(upstream: list[dict], model="deepseek/deepseek-v4-flash") -> list[dict]:
    """What the relay emits for these upstream chunks: the adapters' translator with usage asked for."""
    translator = StreamTranslator("deepseek", model, include_usage=True)
    out = [chunk for raw in upstream for chunk in translator.feed(raw)]
    return out + translator.finish()


def reasoning_text_tools(calls=(("call_a", "read_file", '{"path": "a.py"}'),)) -> list[dict]:
    """Upstream chunks: reasoning, then text, then each tool call's arguments in pieces, then usage."""
    chunks = [provider_chunk({"role": "assistant", "content": None, "reasoning_content": "Let me "}),
              provider_chunk({"reasoning_content": "look."}),
              provider_chunk({"content": "Reading "}), provider_chunk({"content": "the files."})]
    for index, (call_id, name, arguments) in enumerate(calls):
        chunks.append(provider_chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                                      "function": {"name": name, "arguments": ""}}]}))
        for piece in (arguments[:5], arguments[5:]):
            chunks.append(provider_chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    chunks.append(provider_chunk({}, "tool_calls" if calls else "stop", usage()))
    return chunks


def client_reading(kind: str, status: int, body: bytes, content_type="text/event-stream"):
    """An official SDK client (anthropic or openai) whose HTTP transport answers every request with `body`."""
    seen: list = []

    def answer(request):
        seen.append(json.loads(request.content or b"{}"))
        return httpx2.Response(status, headers={"content-type": content_type, "request-id": "req_test"},
                               content=body)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    if kind == "anthropic":
        import anthropic
        return anthropic.Anthropic(api_key="cr_test", base_url="http://gateway.test", http_client=http,
                                   max_retries=0), seen
    import openai
    return openai.OpenAI(api_key="cr_test", base_url="http://gateway.test/v1", http_client=http,
                         max_retries=0), seen


def sse_events(raw: bytes) -> list[tuple[str | None, dict]]:
    """(event name, data) for each event in an SSE byte stream; comments skipped."""
    events = []
    for block in raw.decode("utf-8").split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def drive(chunks, events):
    """Feed a surface's event renderer as the relay does: dicts, then "[DONE]"; an error dict or a bare end is a cut.

    Any other string is a keep-alive the relay passed on from the provider.
    """
    from ethergate.gateway.errors import GatewayError
    for chunk in chunks:
        if chunk == "[DONE]":
            yield events.finish()
            return
        out = events.keepalive() if isinstance(chunk, str) else events.feed(chunk)
        if out:
            yield out
        if events.ended:
            return
    yield events.fail(GatewayError(502, "provider_request_failed", "the provider closed the stream before it finished",
                                   "api_error"))
