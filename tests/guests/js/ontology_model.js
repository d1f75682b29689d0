// Exercises the JavaScript SDK's OntologyDataModel inside a component: the
// demo ontology's Quality and Scene as a schema, a model's answer applied,
// and an answer that does not fit refused with nothing written.

import { LabelError, OntologyDataModel, labelRow, ontology, stage } from "encord-agent";
export { handler } from "encord-agent";

const ANSWERS = {
  "street-01.png": '{"Quality": "Good", "Scene": ["Outdoor", "Night"]}',
  // Quality fits, Scene does not: neither may be written.
  "street-02.png": '{"Quality": "Blurry", "Scene": ["Underwater"]}',
  "street-03.png": "not JSON",
};

stage("pre-label", { needs: { row: labelRow, onto: ontology }, pathways: ["to triage"] }, function apply({ task, row, onto }) {
  const model = new OntologyDataModel(onto, ["Quality", "Scene"]);
  const schema = model.schema();
  if (JSON.stringify(schema.required) !== '["Quality","Scene"]' || schema.properties.Scene.items.enum.join() !== "Indoor,Outdoor,Night") {
    throw new Error(`CHECK FAILED: schema ${JSON.stringify(schema)}`);
  }
  const answer = ANSWERS[task.dataTitle];
  if (answer === undefined) return "to triage";
  try {
    model.apply(row, answer);
  } catch (e) {
    if (!(e instanceof LabelError)) throw e;
    // Refused: the row is routed as it is, with the reason as its caption.
    row.addClassification("Caption", e.message, [0, 0]);
  }
  return { pathway: "to triage", labelRow: row };
});
