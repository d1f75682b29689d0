// tests/guests/route-by-annotator (Rust) in JavaScript: route on who last
// acted on the task and move the twin's task along `done` when it sits in an
// agent stage. The test fills in the twin's hash for `<project_hash_b>`.

import { stage, twin } from "encord-agent";
export { handler } from "encord-agent";

const twinned = twin("<project_hash_b>", { includeTask: true });

stage("route", { needs: { twin: twinned }, pathways: ["Expert", "Novice"] }, function route({ task, twin }) {
  if (!task.createdAt || !task.updatedAt) throw new Error("the task has no created/updated time");
  if (twin !== null && twin.stage !== null && twin.stage.stageType === "AGENT") twin.proceed("done");
  return (task.lastActionedBy ?? "").includes("expert") ? "Expert" : "Novice";
});
