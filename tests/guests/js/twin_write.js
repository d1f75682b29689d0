// The twin write-back of tests/guests/twin-write (Rust) in JavaScript: edit
// the twin's label row, then save it to the twin project. The test fills in
// the twin's project hash where this file has `<project_hash_b>`.
//
// Street scenes get the twin's own `Verdict` Approved, other images
// Rejected; for blurry images the agent saves this project's row, with a
// `Quality` the twin's ontology lacks, which the host refuses, so the task
// fails and stays.

import { labelRow, stage, twin } from "encord-agent";
export { handler } from "encord-agent";

const groundTruth = twin("<project_hash_b>");

stage("pre-label", { needs: { row: labelRow, twin: groundTruth }, pathways: ["to triage"] }, function verdict({ task, row, twin }) {
  if (twin === null) return "to triage";
  if (task.dataTitle.includes("blurry")) {
    row.addClassification("Quality", "Blurry", [0, 0]);
    twin.save(row);
    return "to triage";
  }
  twin.labelRow.addClassification("Verdict", task.dataTitle.startsWith("street") ? "Approved" : "Rejected", [0, 0]);
  twin.save();
  return "to triage";
});
