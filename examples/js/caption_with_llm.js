// Captions each image with a vision model behind an Anthropic-style
// messages API and writes the caption as the `Caption` classification.
//
// The endpoint and key are the operator's, granted at run time:
//
//   ANTHROPIC_API_KEY=... runner-host --component caption_with_llm.wasm \
//       --env ANTHROPIC_API_KEY --env ANTHROPIC_BASE_URL --allow-net api.anthropic.com ...

import { env, firstFrame, http, labelRow, stage } from "encord-agent";
export { handler } from "encord-agent";

stage("pre-label", { needs: { frame: firstFrame, row: labelRow }, pathways: ["to triage"] }, function caption({ frame, row }) {
  const base = env("ANTHROPIC_BASE_URL") ?? "https://api.anthropic.com";
  const body = {
    model: env("ANTHROPIC_MODEL") ?? "claude-3-5-haiku-latest",
    max_tokens: 100,
    messages: [{ role: "user", content: [frame.b64Encoding("png", "anthropic"), { type: "text", text: "Caption this image in one sentence." }] }],
  };
  const headers = { "x-api-key": env("ANTHROPIC_API_KEY"), "anthropic-version": "2023-06-01" };
  // A 429 or 5xx fails this attempt; runner-host retries the task.
  const answer = http.post(`${base}/v1/messages`, { json: body, headers, timeout: 60 }).raiseForStatus().json();
  const text = (answer.content || []).filter((p) => p.type === "text").map((p) => p.text).join(" ").trim();
  if (!text) throw new Error(`the model gave no caption: ${JSON.stringify(answer).slice(0, 200)}`);
  row.addClassification("Caption", text, [0, 0]);
  return { pathway: "to triage", labelRow: row };
});
