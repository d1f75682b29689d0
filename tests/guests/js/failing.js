// A JavaScript agent whose handler fails as an author's code does: an error
// of its own, a need it did not declare, an ontology name that does not
// exist. Each must fail only its task, naming the cause and the line.

import { labelRow, stage } from "encord-agent";
import data from "encord:agent/data@0.2.0";
export { handler } from "encord-agent";

stage("pre-label", { needs: { row: labelRow } }, function failing({ task, row }) {
  if (task.dataTitle === "street-01.png") throw new RangeError(`no model for ${task.dataTitle}`);
  if (task.dataTitle === "street-02.png") data.assetBytes(null);
  if (task.dataTitle === "street-03.png") row.addObject("Dragon", 0, { point: { x: 0, y: 0 } });
  return "to triage";
});
