// The docs' Node examples against a live gateway; prints what it saw as one JSON object.
// Usage (from the repo root): ETHERGATE_BASE_URL=... ETHERGATE_API_KEY=... node tests/gateway/node/sdk_check.mjs
import OpenAI from "openai";

const client = new OpenAI({
  apiKey: process.env.ETHERGATE_API_KEY,
  baseURL: process.env.ETHERGATE_BASE_URL,
  maxRetries: 0,
});
const tools = [{
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } },
}];
const toolDirective = ' [[fake:{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Hangzhou"}}]}]]';
const out = {};

const completion = await client.chat.completions.create({
  model: "qwen/qwen-plus",
  messages: [
    { role: "system", content: "You are a concise launch assistant." },
    { role: "user", content: "Write an onboarding email for developers." },
  ],
  stream: false,
});
out.plain = { content: completion.choices[0]?.message?.content, usage: completion.usage };

const stream = await client.chat.completions.create({
  model: "qwen/qwen-plus",
  messages: [{ role: "user", content: "Draft a product changelog" }],
  stream: true,
  stream_options: { include_usage: true },
});
out.stream = { text: "", chunks: 0, usage: null };
for await (const chunk of stream) {
  out.stream.text += chunk.choices[0]?.delta?.content ?? "";
  out.stream.chunks += 1;
  if (chunk.usage) out.stream.usage = chunk.usage;
}

const called = await client.chat.completions.create({
  model: "deepseek/deepseek-v4-flash",
  messages: [{ role: "user", content: "Weather?" + toolDirective }],
  tools,
});
out.tool = { finish: called.choices[0].finish_reason, call: called.choices[0].message.tool_calls?.[0] };

const toolStream = await client.chat.completions.create({
  model: "moonshot/kimi-k2.6",
  messages: [{ role: "user", content: "Weather?" + toolDirective }],
  tools,
  stream: true,
});
const calls = {};
for await (const chunk of toolStream) {
  for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
    calls[delta.index] ??= { id: delta.id, name: delta.function?.name, arguments: "" };
    calls[delta.index].arguments += delta.function?.arguments ?? "";
  }
}
out.toolStream = calls;

try {
  await client.chat.completions.create({ model: "acme/no-such-model", messages: [{ role: "user", content: "hi" }] });
} catch (err) {
  out.error = { name: err.constructor.name, status: err.status, code: err.code, requestID: err.requestID };
}
console.log(JSON.stringify(out));
