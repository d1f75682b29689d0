// The smallest JavaScript agent: serves `pre-label`, needs nothing, stays.
// Measures the per-task overhead of the QuickJS runtime.
import { stage } from "encord-agent";
export { handler } from "encord-agent";

stage("pre-label", () => null);
