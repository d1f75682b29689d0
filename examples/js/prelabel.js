// Pre-labels every task of the `pre-label` stage and routes it to triage:
// the JavaScript twin of examples/prelabel (Rust), giving the same label rows.
//
// `street-*` images get a Vehicle box, `portrait-*` images a Person box with
// its pose answered, every image a Quality classification, and a video a
// Person box tracked across its first five frames.

import { labelRow, log, stage } from "encord-agent";
export { handler } from "encord-agent";

stage("pre-label", { needs: { row: labelRow }, pathways: ["to triage"] }, function preLabel({ task, row }) {
  const title = task.dataTitle.toLowerCase();
  if (row.dataType === "video") {
    let person;
    for (let frame = 0; frame < 5; frame++) {
      const boundingBox = { x: 0.1 + 0.05 * frame, y: 0.2, w: 0.3, h: 0.5 };
      if (person === undefined) person = row.addObject("Person", frame, { boundingBox });
      else row.addObjectFrame(person, frame, { boundingBox });
    }
    log.info(`tracked a person over 5 frames of ${task.dataTitle}`);
    return { pathway: "to triage", labelRow: row };
  }
  if (title.startsWith("street")) {
    row.addObject("Vehicle", 0, { boundingBox: { x: 0.25, y: 0.4, w: 0.5, h: 0.35 } });
  }
  if (title.startsWith("portrait")) {
    const person = row.addObject("Person", 0, { boundingBox: { x: 0.3, y: 0.1, w: 0.4, h: 0.8 } });
    row.setObjectAnswer(person, "Pose", "Standing");
  }
  row.addClassification("Quality", title.includes("blurry") ? "Blurry" : "Good", [0, 0]);
  return { pathway: "to triage", labelRow: row };
});
