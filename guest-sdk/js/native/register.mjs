// Runs the SDK outside a component, under Node (20.6 or newer), for native
// tests of an agent's code:
//
//   node --import encord-agent/native/register.mjs --test
//
// The host's interfaces (`encord:agent/*`, `wasi:*`) resolve to stand-ins
// whose every function throws "… is not available outside a component":
// label rows, ontologies and OntologyDataModel work; a call that needs the
// host fails loudly instead of pretending.
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
