import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { testStage } from "encord-agent";
import "./agent.js";

const fixture = (name) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

test("captions the image and sends it to triage", () => {
  const out = testStage("pre-label", { ontology: fixture("ontology.json"), labelRow: fixture("label-row.json") });
  assert.equal(out.pathway, "to triage");
  assert.equal(out.labelRow.classification("Caption").answer, "seen by {{name}}: street-01.png");
});
