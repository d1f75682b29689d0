// The agent of bench/compare.sh in JavaScript: the same logic as the Rust
// bench/agent and bench/agent.py. Per task: read the label row, add one
// Vehicle box unless the row already has an object, set a priority derived
// from the data title, route to triage.

import { labelRow, stage } from "encord-agent";
export { handler } from "encord-agent";

/** 0.1 to 0.9 in tenths by the sum of the title's bytes (as bench/agent). */
function priority(title) {
  let sum = 0;
  for (const b of utf8(title)) sum += b;
  return ((sum % 9) + 1) / 10;
}

/** The title's UTF-8 bytes (QuickJS may lack TextEncoder). */
function* utf8(text) {
  const binary = unescape(encodeURIComponent(text));
  for (let i = 0; i < binary.length; i++) yield binary.charCodeAt(i);
}

stage("pre-label", { needs: { row: labelRow }, pathways: ["to triage"] }, function preLabel({ task, row }) {
  if (row.objects().length === 0) {
    row.addObject("Vehicle", 0, { boundingBox: { x: 0.25, y: 0.4, w: 0.5, h: 0.35 } });
  }
  return { pathway: "to triage", labelRow: row, priority: priority(task.dataTitle) };
});
