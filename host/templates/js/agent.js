// {{name}}: a runner-host task agent.
//
// `runner-host test` (or `npm test`) runs agent.test.mjs natively;
// `runner-host build` makes agent.wasm.

import { labelRow, stage } from "encord-agent";
export { handler } from "encord-agent";

// Captions each task's data with its title and sends it on to triage.
stage("pre-label", { needs: { row: labelRow }, pathways: ["to triage"] }, ({ task, row }) => {
  row.addClassification("Caption", `seen by {{name}}: ${task.dataTitle}`, [0, 0]);
  return { pathway: "to triage", labelRow: row };
});
