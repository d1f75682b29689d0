// The JavaScript SDK's OntologyDataModel natively, under Node with the SDK's
// native stand-ins for the host (encord-agent/native/register.mjs): nested
// questions against the spec's ontology vector, object types against the
// demo ontology, and answers that do not fit refused with nothing written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { LabelError, LabelRow, Ontology, OntologyDataModel, env } from "encord-agent";

// The workspace root (tests/model_apis.rs runs this from a temporary folder).
const root = new URL(`file://${process.env.WORKSPACE}/`);
const read = (path) => JSON.parse(readFileSync(new URL(path, root), "utf8"));
const spec = new Ontology(read("labels/tests/vectors/ontology.json"));
const demo = new Ontology(read("examples/demo-ontology.json"));

function cleanRow(ontology) {
  const row = new LabelRow(read("labels/tests/vectors/image_label.json"), ontology);
  for (const o of row.objects()) row.removeObject(o.objectHash);
  for (const c of row.classifications()) row.removeClassification(c.classificationHash);
  return row;
}

test("a nested question is an object per option and its answer lands on the classification", () => {
  const m = new OntologyDataModel(spec, ["Quality", "Tags"]);
  const quality = m.schema().properties.Quality.anyOf;
  assert.deepEqual(quality[0].required, ["choice"]);
  assert.deepEqual(quality[1].properties.choice.enum, ["Bad"]);
  assert.deepEqual(quality[1].required, ["choice", "Why"]);
  const row = cleanRow(spec);
  m.apply(row, '{"Quality": {"choice": "Bad", "Why": "motion blur"}, "Tags": ["Rain", "Rain"]}');
  const written = row.classification("Quality");
  assert.deepEqual(written.answers, { Quality: "Bad", Why: "motion blur" });
  assert.deepEqual(row.classification("Tags").answers, { Tags: ["Rain"] });
});

test("a nested answer that does not fit its option is refused and nothing is written", () => {
  const m = new OntologyDataModel(spec, ["Quality", "Tags"]);
  for (const [answer, says] of [
    ['{"Quality": "Bad", "Tags": []}', "is not an object with `choice`"],
    ['{"Quality": {"choice": "Bad"}, "Tags": []}', "lacks `Why` of `Quality`: `Bad`"],
    ['{"Quality": {"choice": "Good", "Why": "sharp"}, "Tags": []}', "has Why, not in the schema of `Quality`: `Good`"],
    ['{"Quality": {"choice": "Meh"}, "Tags": []}', "is not one of Good, Bad"],
    ['{"Quality": {"choice": "Good"}, "Tags": ["Fog"]}', "is not a list of Night, Rain"],
  ]) {
    const row = cleanRow(spec);
    assert.throws(() => m.apply(row, answer), (e) => e instanceof LabelError && e.message.includes(says), answer);
    assert.equal(row.classifications().length, 0, `${answer}: nothing written`);
  }
});

test("object types are a choice with their attributes and the answer becomes an object", () => {
  const m = new OntologyDataModel(demo, ["Person", "Vehicle"], { objects: true });
  const [person, vehicle] = m.schema().anyOf;
  assert.equal(person.properties.object.const, "Person");
  assert.deepEqual(person.required, ["object", "Pose"]);
  assert.deepEqual(vehicle.required, ["object"]);
  assert.deepEqual(m.choose('{"object": "Person", "Pose": "Sitting"}'), { object: "Person", answers: [["Pose", "Sitting"]] });
  const row = cleanRow(demo);
  const box = { boundingBox: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } };
  const hash = m.apply(row, { object: "Person", Pose: "Sitting" }, { frame: 0, shape: box });
  const [added] = row.objects("Person");
  assert.equal(added.objectHash, hash);
  assert.deepEqual(added.answers, { Pose: "Sitting" });
  for (const [answer, says] of [
    ['{"object": "Dog"}', "not one of Person, Vehicle"],
    ['{"object": "Person"}', "lacks `Pose` of `Person`"],
    ['{"object": "Vehicle", "Pose": "Sitting"}', "has Pose, not in the schema of `Vehicle`"],
  ]) {
    const before = row.objects().length;
    assert.throws(() => m.apply(row, answer, { frame: 0, shape: box }), (e) => e instanceof LabelError && e.message.includes(says), answer);
    assert.equal(row.objects().length, before, `${answer}: nothing written`);
  }
});

test("what needs the host fails loudly outside a component", () => {
  assert.throws(() => env("MODEL_API_KEY"), /encord:agent\/settings@0.2.0.get is not available outside a component/);
});

test("testStage runs a stage's handler natively and gives its decision", async () => {
  const { stage, labelRow, testStage } = await import("encord-agent");
  stage("native-caption", { needs: { row: labelRow }, pathways: ["to triage"] }, ({ task, row }) => {
    row.addClassification("Caption", `seen: ${task.dataTitle}`, [0, 0]);
    return { pathway: "to triage", labelRow: row, priority: 0.5 };
  });
  const out = testStage("native-caption", {
    ontology: read("examples/demo-ontology.json"),
    labelRow: JSON.stringify(cleanRow(demo).toJSON()),
    task: { dataTitle: "street-01.png" },
  });
  assert.equal(out.pathway, "to triage");
  assert.equal(out.priority, 0.5);
  assert.equal(out.labelRow.classification("Caption").answer, "seen: street-01.png");
  stage("native-wrong", { pathways: ["to triage"] }, () => "nowhere");
  assert.throws(() => testStage("native-wrong", { ontology: read("examples/demo-ontology.json") }), /returned pathway `nowhere`, not one it declares/);
  assert.throws(() => testStage("absent", { ontology: {} }), /no stage `absent` registered/);
});
