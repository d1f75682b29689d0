// Shows what a JavaScript agent's instance has seen (the JavaScript twin of
// tests/guests/python/reuse.py): `init` counts itself, and each task sets the
// priority to (tasks this instance has run) / 100 — 0.01 everywhere with a
// fresh instance per task, counting up with `--reuse-instance N`.

import { init, stage } from "encord-agent";

let inits = 0;
let tasks = 0;

init(() => {
  inits += 1;
});

stage("pre-label", function preLabel() {
  if (inits !== 1) throw new Error(`this instance was initialised ${inits} times, not once`);
  tasks += 1;
  return { pathway: "to triage", priority: tasks / 100 };
});
