// Triages pre-labelled tasks: routes by data title and existing labels and
// sets each task's priority; the JavaScript twin of examples/triage (Rust).
//
// - a blurry image (title or Quality label) needs a human: "needs annotation",
//   top priority;
// - anything with a person goes "to review", high priority;
// - the rest is "done", priority 0.0.

import { dependency, labelRow, stage } from "encord-agent";
export { handler } from "encord-agent";

// A custom dependency built from another: does the row hold a person?
const hasPerson = dependency({ row: labelRow }, ({ row }) => row.objects("Person").length > 0);

stage(
  "triage",
  { needs: { row: labelRow, person: hasPerson }, pathways: ["needs annotation", "to review", "done"] },
  function triage({ task, row, person }) {
    const blurryLabel = row.classification("Quality")?.answer === "Blurry";
    if (blurryLabel || task.dataTitle.includes("blurry")) return { pathway: "needs annotation", priority: 1.0 };
    if (person) return { pathway: "to review", priority: 0.8 };
    return { pathway: "done", priority: 0.0 };
  },
);
