// Write runner-host task agents in JavaScript.
//
//   import { stage, dependency, labelRow } from "encord-agent";
//   export { handler } from "encord-agent";
//
//   stage("triage", { needs: { row: labelRow } }, ({ task, row }) => {
//     return row.objects("Person").length ? { pathway: "to review", priority: 0.8 } : "done";
//   });
//
// A handler receives `{ task, ...needs }` and returns a pathway name or uuid,
// null/undefined (stay), or `{ pathway, labelRow, priority }`. What it needs
// is declared, not guessed: each entry of `needs` is a built-in (labelRow,
// storageItem, assetBytes, assetPath, firstFrame, videoFrames, videoSampler,
// project, currentStage, twin(hash)) or your own `dependency(needs, build)`.
// What they need is loaded by the host in bulk; each is built once per task.
// `init(callback)` runs once per instance before its first task; `start`
// once per run.
//
// Build: scripts/build-agent.sh agent.js -o agent.wasm (componentize-qjs).

import labelsApi from "encord:agent/labels@0.2.0";
import dataApi from "encord:agent/data@0.2.0";
import twinsApi from "encord:agent/twins@0.2.0";
import tasksApi from "encord:agent/tasks@0.2.0";
import projectApi from "encord:agent/project@0.2.0";
import logApi from "encord:agent/log@0.2.0";
import visionApi from "encord:agent/vision@0.2.0";
import httpApi from "encord:agent/http@0.2.0";
import settingsApi from "encord:agent/settings@0.2.0";
import graphApi from "wasi:nn/graph@0.2.0-rc-2024-10-28";
import tensorApi from "wasi:nn/tensor@0.2.0-rc-2024-10-28";

// ---------------------------------------------------------------------------
// Errors

/** A label edit the ontology or the row does not allow. */
export class LabelError extends Error {
  constructor(message) {
    super(message);
    this.name = "LabelError";
  }
}

function hostCall(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    const payload = e && typeof e === "object" && "payload" in e ? e.payload : e;
    throw new Error(typeof payload === "string" ? payload : String(payload));
  }
}

// ---------------------------------------------------------------------------
// Logging

function logAt(level) {
  return (...parts) => logApi.log(level, parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" "));
}

/** Writes to runner-host's log, with the task and stage attached. */
export const log = {
  trace: logAt("trace"),
  debug: logAt("debug"),
  info: logAt("info"),
  warn: logAt("warn"),
  error: logAt("error"),
};

// ---------------------------------------------------------------------------
// The ontology

function snake(name) {
  return name.trim().toLowerCase().replaceAll(" ", "_");
}

function* walkAttributes(attributes) {
  for (const a of attributes || []) {
    yield a;
    for (const o of a.options || []) yield* walkAttributes(o.options);
  }
}

/** The project's ontology (Encord's ontology JSON), looked up by name. */
export class Ontology {
  constructor(json) {
    this.json = json;
    this.objects = json.objects || [];
    this.classifications = json.classifications || [];
  }

  object(name) {
    const found = this.objects.find((o) => o.name === name);
    if (!found) {
      throw new LabelError(`no object \`${name}\` in the ontology; objects: ${this.objects.map((o) => o.name).join(", ")}`);
    }
    return found;
  }

  classification(name) {
    const found = this.classifications.find((c) => (c.attributes || [])[0]?.name === name);
    if (!found) {
      const names = this.classifications.map((c) => (c.attributes || [])[0]?.name);
      throw new LabelError(`no classification \`${name}\` in the ontology; classifications: ${names.join(", ")}`);
    }
    return found;
  }

  objectByHash(hash) {
    return this.objects.find((o) => o.featureNodeHash === hash);
  }

  classificationByHash(hash) {
    return this.classifications.find((c) => c.featureNodeHash === hash);
  }
}

/** Encord's answer entry for `attribute` (a radio option label, a list of
 * checklist labels, a text, a number), as the Rust SDK writes it. */
function answerEntry(attribute, answer) {
  const option = (label) => {
    const o = (attribute.options || []).find((x) => x.label === label);
    if (!o) {
      const labels = (attribute.options || []).map((x) => x.label);
      throw new LabelError(`\`${label}\` is not an option of \`${attribute.name}\`; options: ${labels.join(", ")}`);
    }
    return { name: o.label, value: o.value, featureHash: o.featureNodeHash };
  };
  let answers;
  switch (attribute.type) {
    case "radio":
      if (typeof answer !== "string") throw new LabelError(`\`${attribute.name}\` is a radio attribute: answer one option label`);
      answers = [option(answer)];
      break;
    case "checklist":
      answers = (Array.isArray(answer) ? answer : [answer]).map(option);
      break;
    case "text":
      if (typeof answer !== "string") throw new LabelError(`\`${attribute.name}\` is a text attribute: answer a string`);
      answers = answer;
      break;
    case "numeric":
      if (typeof answer !== "number") throw new LabelError(`\`${attribute.name}\` is a numeric attribute: answer a number`);
      answers = answer;
      break;
    default:
      throw new LabelError(`attribute \`${attribute.name}\` has a type this SDK cannot answer`);
  }
  return { name: attribute.name, value: snake(attribute.name), featureHash: attribute.featureNodeHash, answers, manualAnnotation: false };
}

function readAnswer(attribute, entry) {
  const a = entry.answers;
  if (!Array.isArray(a)) return a;
  const names = a.map((x) => x.name);
  if (attribute ? attribute.type === "radio" : names.length === 1) return names[0];
  return names;
}

// ---------------------------------------------------------------------------
// Shapes

function shapeKind(shape) {
  const kinds = { boundingBox: "bounding_box", rotatableBoundingBox: "rotatable_bounding_box", polygon: "polygon", polyline: "polyline", point: "point" };
  const keys = Object.keys(shape || {});
  if (keys.length !== 1 || !kinds[keys[0]]) {
    throw new LabelError(`a shape is one of { boundingBox }, { rotatableBoundingBox }, { polygon }, { polyline }, { point }, not ${JSON.stringify(shape)}`);
  }
  return kinds[keys[0]];
}

function pointMap(points) {
  return Object.fromEntries(points.map((p, i) => [String(i), { x: p.x, y: p.y }]));
}

function shapeKeys(shape) {
  if (shape.boundingBox) {
    const b = shape.boundingBox;
    return { boundingBox: { h: b.h, w: b.w, x: b.x, y: b.y } };
  }
  if (shape.rotatableBoundingBox) {
    const b = shape.rotatableBoundingBox;
    return { rotatableBoundingBox: { h: b.h, w: b.w, x: b.x, y: b.y, theta: b.theta ?? 0 } };
  }
  if (shape.polygon) return { polygon: pointMap(shape.polygon), polygons: [[shape.polygon.flatMap((p) => [p.x, p.y])]] };
  if (shape.polyline) return { polyline: pointMap(shape.polyline) };
  return { point: pointMap([shape.point]) };
}

function points(map) {
  return Object.entries(map || {})
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, p]) => ({ x: p.x, y: p.y }));
}

function shapeOf(o) {
  switch (o.shape) {
    case "bounding_box":
      return o.boundingBox ? { boundingBox: { ...o.boundingBox } } : null;
    case "rotatable_bounding_box":
      return o.rotatableBoundingBox ? { rotatableBoundingBox: { ...o.rotatableBoundingBox } } : null;
    case "polygon":
      return o.polygon ? { polygon: points(o.polygon) } : null;
    case "polyline":
      return o.polyline ? { polyline: points(o.polyline) } : null;
    case "point":
      return o.point ? { point: points(o.point)[0] } : null;
    default:
      return null;
  }
}

function now() {
  return new Date().toUTCString().replace("GMT", "UTC");
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const MASK = (1n << 64n) - 1n;

// UTF-8 bytes of a string (QuickJS has no TextEncoder).
function utf8(s) {
  const out = [];
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The label row

/** A task's label row: Encord label-row JSON, edited by ontology name. Keys
 * this SDK does not model are written back as they came. */
export class LabelRow {
  constructor(json, ontology) {
    this.json = json;
    this.ontology = ontology;
    json.object_answers ??= {};
    json.classification_answers ??= {};
    json.data_units ??= {};
  }

  get dataHash() {
    return this.json.data_hash;
  }
  get dataTitle() {
    return this.json.data_title;
  }
  /** `image`, `video`, `img_group`, ... */
  get dataType() {
    return this.json.data_type;
  }

  /** Every object, or those of ontology type `name`: { objectHash,
   * featureHash, name, frames: [{ frame, shape }], answers: { attribute: answer } }. */
  objects(name) {
    const out = new Map();
    for (const [frame, o] of this.#frameObjects()) {
      if (!out.has(o.objectHash)) {
        const def = this.ontology.objectByHash(o.featureHash);
        out.set(o.objectHash, { objectHash: o.objectHash, featureHash: o.featureHash, name: def ? def.name : o.name || "", frames: [], answers: {} });
      }
      const shape = shapeOf(o);
      if (shape) out.get(o.objectHash).frames.push({ frame, shape });
    }
    for (const obj of out.values()) {
      obj.frames.sort((a, b) => a.frame - b.frame);
      const def = this.ontology.objectByHash(obj.featureHash);
      const attrs = [...walkAttributes(def?.attributes)];
      for (const entry of this.json.object_answers[obj.objectHash]?.classifications || []) {
        obj.answers[entry.name] = readAnswer(attrs.find((a) => a.featureNodeHash === entry.featureHash), entry);
      }
    }
    const all = [...out.values()];
    return name === undefined ? all : all.filter((o) => o.name === name);
  }

  /** Every classification: { classificationHash, featureHash, name, ranges,
   * answer (the top-level one), answers: { attribute: answer } }. */
  classifications(name) {
    const all = Object.values(this.json.classification_answers).map((c) => {
      const def = this.ontology.classificationByHash(c.featureHash);
      const attrs = [...walkAttributes(def?.attributes)];
      const answers = {};
      for (const entry of c.classifications || []) {
        answers[entry.name] = readAnswer(attrs.find((a) => a.featureNodeHash === entry.featureHash), entry);
      }
      const top = (c.classifications || [])[0];
      return {
        classificationHash: c.classificationHash,
        featureHash: c.featureHash,
        name: def ? def.attributes[0].name : top?.name || "",
        ranges: c.range || [],
        answer: top ? answers[top.name] : undefined,
        answers,
      };
    });
    return name === undefined ? all : all.filter((c) => c.name === name);
  }

  /** The classification whose question is `name`, if present. */
  classification(name) {
    return this.classifications(name)[0];
  }

  /** Adds an object of ontology type `name` on `frame`; returns its hash. */
  addObject(name, frame, shape, { confidence = 1.0 } = {}) {
    const hash = this.#newHash(`object:${name}:${frame}`);
    this.#place(name, hash, frame, shape, confidence);
    this.json.object_answers[hash] = { objectHash: hash, classifications: [] };
    return hash;
  }

  /** Places an existing object on one more frame (video tracking). */
  addObjectFrame(objectHash, frame, shape, { confidence = 1.0 } = {}) {
    const def = this.ontology.objectByHash(this.#featureOf(objectHash));
    if (!def) throw new LabelError(`object \`${objectHash}\` is not in the ontology`);
    this.#place(def.name, objectHash, frame, shape, confidence);
  }

  /** Answers one of an object's static attributes. */
  setObjectAnswer(objectHash, attribute, answer) {
    const def = this.ontology.objectByHash(this.#featureOf(objectHash));
    if (!def) throw new LabelError(`object \`${objectHash}\` is not in the ontology`);
    const attr = [...walkAttributes(def.attributes)].find((a) => a.name === attribute);
    if (!attr) {
      throw new LabelError(`no attribute \`${attribute}\` of object \`${def.name}\`; attributes: ${(def.attributes || []).map((a) => a.name).join(", ")}`);
    }
    const entry = answerEntry(attr, answer);
    const answers = (this.json.object_answers[objectHash] ??= { objectHash, classifications: [] });
    answers.classifications = (answers.classifications || []).filter((a) => a.featureHash !== entry.featureHash);
    answers.classifications.push(entry);
  }

  /** Adds a classification (by its question's name) answered `answer` over
   * the inclusive frame range `frames`; returns its hash. */
  addClassification(name, answer, frames = [0, 0]) {
    if (frames[0] > frames[1]) throw new LabelError(`frame range [${frames}] of classification \`${name}\` is reversed`);
    const def = this.ontology.classification(name);
    const entry = answerEntry(def.attributes[0], answer);
    const hash = this.#newHash(`classification:${name}`);
    const t = now();
    this.json.classification_answers[hash] = {
      classificationHash: hash,
      featureHash: def.featureNodeHash,
      classifications: [entry],
      range: [[frames[0], frames[1]]],
      spaces: {},
      createdBy: null,
      createdAt: t,
      lastEditedBy: null,
      lastEditedAt: t,
      confidence: 1.0,
      manualAnnotation: false,
    };
    return hash;
  }

  /** Answers one of a classification's nested questions (under an option
   * of its radio question, by name), replacing an earlier answer to it. */
  setClassificationAnswer(classificationHash, attribute, answer) {
    const entry = this.json.classification_answers[classificationHash];
    if (!entry) throw new LabelError(`no classification \`${classificationHash}\` in this label row`);
    const def = this.ontology.classificationByHash(entry.featureHash);
    if (!def) throw new LabelError(`classification \`${classificationHash}\` is not in the ontology`);
    const attr = [...walkAttributes(def.attributes)].find((a) => a.name === attribute);
    if (!attr) {
      const names = [...walkAttributes(def.attributes)].slice(1).map((a) => a.name);
      throw new LabelError(`no question \`${attribute}\` in classification \`${def.attributes[0]?.name}\`; nested questions: ${names.join(", ")}`);
    }
    const written = answerEntry(attr, answer);
    entry.classifications = (entry.classifications || []).filter((a) => a.featureHash !== written.featureHash);
    entry.classifications.push(written);
  }

  /** Removes an object from every frame; returns whether it existed. */
  removeObject(objectHash) {
    let found = objectHash in this.json.object_answers;
    delete this.json.object_answers[objectHash];
    for (const [, labels] of this.#allFrameLabels()) {
      const before = labels.objects.length;
      labels.objects = labels.objects.filter((o) => o.objectHash !== objectHash);
      found ||= labels.objects.length !== before;
    }
    return found;
  }

  removeClassification(classificationHash) {
    const found = classificationHash in this.json.classification_answers;
    delete this.json.classification_answers[classificationHash];
    return found;
  }

  toJSON() {
    return this.json;
  }

  #isVideo() {
    return this.json.data_type === "video";
  }

  #isGroup() {
    return Object.keys(this.json.data_units).length > 1 || this.json.data_type === "img_group";
  }

  #allFrameLabels() {
    const out = [];
    for (const unit of Object.values(this.json.data_units)) {
      const labels = unit.labels;
      if (!labels || typeof labels !== "object") continue;
      if (Array.isArray(labels.objects)) out.push([this.#isGroup() ? Number(unit.data_sequence || 0) : 0, labels]);
      else for (const [k, v] of Object.entries(labels)) if (/^\d+$/.test(k) && Array.isArray(v?.objects)) out.push([Number(k), v]);
    }
    return out;
  }

  #frameObjects() {
    const out = [];
    for (const [frame, labels] of this.#allFrameLabels()) for (const o of labels.objects) out.push([frame, o]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  #featureOf(objectHash) {
    const found = this.#frameObjects().find(([, o]) => o.objectHash === objectHash);
    if (!found) throw new LabelError(`no object \`${objectHash}\` in this label row`);
    return found[1].featureHash;
  }

  #frameLabels(frame) {
    const video = this.#isVideo();
    const group = this.#isGroup();
    const units = Object.values(this.json.data_units);
    const unit = group ? units.find((u) => Number(u.data_sequence || 0) === frame) : units[0];
    if (!unit) throw new LabelError(`the label row has no data unit for frame ${frame}`);
    if (!video && !group && frame !== 0) throw new LabelError(`frame ${frame} does not exist: a ${this.json.data_type} has only frame 0`);
    let labels = unit.labels;
    // An empty unit may have come in either shape: make it the right one.
    const empty =
      !labels || typeof labels !== "object"
        ? true
        : Array.isArray(labels.objects)
          ? labels.objects.length === 0 && !(labels.classifications || []).length
          : Object.keys(labels).length === 0;
    if (empty) {
      labels = video ? {} : { objects: [], classifications: [] };
      unit.labels = labels;
    }
    if (video) {
      if (Array.isArray(labels.objects)) throw new LabelError("the data unit's labels do not have the shape of a video row");
      return (labels[String(frame)] ??= { objects: [], classifications: [] });
    }
    if (!Array.isArray(labels.objects)) throw new LabelError(`the data unit's labels do not have the shape of a ${this.json.data_type} row`);
    return labels;
  }

  #place(name, hash, frame, shape, confidence = 1.0) {
    if (!(confidence >= 0 && confidence <= 1)) throw new LabelError(`confidence ${confidence} of \`${name}\` is outside [0, 1]`);
    const def = this.ontology.object(name);
    const kind = shapeKind(shape);
    if (def.shape !== kind) throw new LabelError(`object \`${name}\` is a ${def.shape} in the ontology, not a ${kind}`);
    const labels = this.#frameLabels(frame);
    const t = now();
    labels.objects = labels.objects.filter((o) => o.objectHash !== hash);
    labels.objects.push({
      objectHash: hash,
      featureHash: def.featureNodeHash,
      shape: def.shape,
      name: def.name,
      color: def.color,
      value: snake(def.name),
      createdAt: t,
      createdBy: null,
      confidence,
      manualAnnotation: false,
      lastEditedAt: t,
      ...shapeKeys(shape),
    });
  }

  #taken(hash) {
    return hash in this.json.object_answers || hash in this.json.classification_answers || this.#frameObjects().some(([, o]) => o.objectHash === hash);
  }

  // An 8-character hash, unique in this row: FNV-1a over the data hash, the
  // seed and a counter, exactly as the Rust SDK derives it.
  #newHash(seed) {
    for (let counter = 0n; ; counter++) {
      let x = 0xcbf29ce484222325n;
      const counterBytes = [];
      for (let i = 0n; i < 8n; i++) counterBytes.push(Number((counter >> (8n * i)) & 0xffn));
      for (const b of [...utf8(this.json.data_hash), ...utf8(seed), ...counterBytes]) {
        x ^= BigInt(b);
        x = (x * 0x100000001b3n) & MASK;
      }
      let hash = "";
      for (let i = 0n; i < 8n; i++) hash += ALPHABET[Number((x >> (i * 6n)) & 63n)];
      if (!this.#taken(hash)) return hash;
    }
  }
}

// ---------------------------------------------------------------------------
// Frames

/** The `{ x, y, w, h }` (normalised) holding `crop`: a box, or an object's
 * shape (`{ boundingBox }`, `{ rotatableBoundingBox }` rotated in pixels,
 * `{ polygon }`, `{ polyline }`), clamped to the image. */
function cropBox(crop, width, height) {
  if (crop === null || crop === undefined) return null;
  const bounds = (pts) => {
    const xs = pts.map((p) => Math.min(1, Math.max(0, p.x)));
    const ys = pts.map((p) => Math.min(1, Math.max(0, p.y)));
    const [x, y] = [Math.min(...xs), Math.min(...ys)];
    return { x, y, w: Math.max(...xs) - x, h: Math.max(...ys) - y };
  };
  if (crop.boundingBox) return crop.boundingBox;
  if (crop.rotatableBoundingBox) {
    const b = crop.rotatableBoundingBox;
    const [w, h] = [Math.max(width, 1), Math.max(height, 1)];
    const [cx, cy] = [(b.x + b.w / 2) * w, (b.y + b.h / 2) * h];
    const [hw, hh] = [(b.w * w) / 2, (b.h * h) / 2];
    const [sin, cos] = [Math.sin((b.theta * Math.PI) / 180), Math.cos((b.theta * Math.PI) / 180)];
    return bounds([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]].map(([dx, dy]) => ({ x: (cx + dx * cos - dy * sin) / w, y: (cy + dx * sin + dy * cos) / h })));
  }
  if (crop.polygon || crop.polyline) return bounds(crop.polygon || crop.polyline);
  if (["x", "y", "w", "h"].every((k) => typeof crop[k] === "number")) return crop;
  throw new LabelError(`crop: ${JSON.stringify(crop)} is not a box { x, y, w, h } nor an object's shape`);
}

/** One decoded RGB8 frame. */
export class Frame {
  constructor(f) {
    this.index = f.index;
    this.width = f.width;
    this.height = f.height;
    this.rgb = f.rgb;
  }
  pixel(x, y) {
    const i = (y * this.width + x) * 3;
    return [this.rgb[i], this.rgb[i + 1], this.rgb[i + 2]];
  }
  meanBrightness() {
    let sum = 0;
    for (let i = 0; i < this.rgb.length; i++) sum += this.rgb[i];
    return this.rgb.length ? sum / this.rgb.length : 0;
  }
  /** The frame (or `crop`, a `{ x, y, w, h }` box, grown by `padding` of its
   * size) as a PNG or JPEG file made in the host: `{ bytes, mediaType, width, height }`. */
  encode({ format = "jpeg", quality = 90, crop = null, padding = 0, maxSide = null } = {}) {
    const wit = { index: this.index ?? 0, width: this.width, height: this.height, rgb: this.rgb };
    const options = { format, quality, crop: cropBox(crop, this.width, this.height), padding, maxSide };
    return hostCall(() => visionApi.encodeImage(wit, options));
  }
  /** encord-agents' `Frame.b64_encoding`, with its defaults (".jpeg", "url"):
   * a data URL ("url"), base64 ("raw"), or a message part for OpenAI
   * ("openai") or Anthropic ("anthropic"). */
  b64Encoding(imageFormat = ".jpeg", outputFormat = "url", options = {}) {
    const format = imageFormat.replace(/^\./, "").toLowerCase();
    const e = this.encode({ ...options, format: format === "jpg" ? "jpeg" : format });
    const b64 = base64(e.bytes);
    const url = `data:${e.mediaType};base64,${b64}`;
    switch (outputFormat) {
      case "raw":
        return b64;
      case "url":
        return url;
      case "openai":
        return { type: "image_url", image_url: { url } };
      case "anthropic":
        return { type: "image", source: { type: "base64", media_type: e.mediaType, data: b64 } };
      default:
        throw new Error(`outputFormat ${outputFormat}: one of raw, url, openai, anthropic`);
    }
  }
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 of bytes. */
export function base64(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b, c] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (b === undefined ? "=" : B64[(n >> 6) & 63]) + (c === undefined ? "=" : B64[n & 63]);
  }
  return out;
}

function utf8Encode(text) {
  if (typeof TextEncoder !== "undefined") return new TextEncoder().encode(text);
  const binary = unescape(encodeURIComponent(text));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function utf8Decode(bytes) {
  if (typeof TextDecoder !== "undefined") return new TextDecoder().decode(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  try {
    return decodeURIComponent(escape(binary));
  } catch {
    return binary;
  }
}

/** The value of an environment variable the operator granted (`--env NAME`),
 * or null. */
export function env(name) {
  return settingsApi.get(name) ?? null;
}

// ---------------------------------------------------------------------------
// HTTP (model APIs), under the operator's --allow-net grants

/** A request that could not be made or answered, or (from
 * `raiseForStatus`) an answer with a 4xx or 5xx status. */
export class HttpError extends Error {
  constructor(message, response = null) {
    super(message);
    this.name = "HttpError";
    this.response = response;
  }
}

/** The host is not granted: nothing was sent. */
export class HttpDenied extends HttpError {}

/** No whole answer within the request's timeout. */
export class HttpTimeout extends HttpError {}

export class HttpResponse {
  constructor(r, url) {
    this.status = r.status;
    this.headers = Object.fromEntries(r.headers.map(([k, v]) => [k.toLowerCase(), v]));
    this.bytes = new Uint8Array(r.body);
    this.url = url;
  }
  get ok() {
    return this.status < 400;
  }
  text() {
    return utf8Decode(this.bytes);
  }
  json() {
    return JSON.parse(this.text());
  }
  raiseForStatus() {
    if (this.status >= 400) throw new HttpError(`HTTP ${this.status} from ${this.url.split("?")[0]}: ${this.text().slice(0, 500)}`, this);
    return this;
  }
}

function httpRequest(method, url, { json, body, headers = {}, timeout = null } = {}) {
  const head = Object.entries(headers).map(([k, v]) => [String(k), String(v)]);
  let bytes;
  if (json !== undefined) {
    bytes = utf8Encode(JSON.stringify(json));
    if (!head.some(([k]) => k.toLowerCase() === "content-type")) head.push(["content-type", "application/json"]);
  } else if (typeof body === "string") {
    bytes = utf8Encode(body);
  } else {
    bytes = body ?? new Uint8Array(0);
  }
  const where = url.split("?")[0];
  try {
    return new HttpResponse(httpApi.send({ method: method.toUpperCase(), url, headers: head, body: bytes, timeout }), url);
  } catch (e) {
    const p = e && typeof e === "object" && "payload" in e ? e.payload : e;
    switch (p && p.tag) {
      case "denied":
        throw new HttpDenied(`HTTP request to \`${p.val}\` denied: the host is not granted (runner-host --allow-net HOST[:PORT])`);
      case "timeout":
        throw new HttpTimeout(`HTTP request to ${where} timed out`);
      case "invalid-url":
        throw new HttpError(`\`${p.val}\` is not an http:// or https:// URL with a host`);
      case "too-large":
        throw new HttpError(`the answer from ${where} is ${p.val} bytes, over the agent's memory limit`);
      case "failed":
        throw new HttpError(`HTTP request to ${where} failed: ${p.val}`);
      default:
        throw new HttpError(`HTTP request to ${where} failed: ${String(p)}`);
    }
  }
}

/** `http.post(url, { json, headers, timeout })` and the other methods: one
 * blocking request; the answer whatever its status (`raiseForStatus()`). */
export const http = {
  request: httpRequest,
  get: (url, options) => httpRequest("GET", url, options),
  post: (url, options) => httpRequest("POST", url, options),
  put: (url, options) => httpRequest("PUT", url, options),
  patch: (url, options) => httpRequest("PATCH", url, options),
  delete: (url, options) => httpRequest("DELETE", url, options),
};

// ---------------------------------------------------------------------------
// The ontology as a JSON schema for structured output (classifications)

const isNested = (q) => q.type === "radio" && (q.options || []).some((o) => (o.options || []).length);

/** The schema of question `q`. A radio question with nested questions is an
 * object per option: `choice`, its label, and that option's questions. */
function questionSchema(q) {
  const labels = (q.options || []).map((o) => o.label);
  if (isNested(q)) {
    const anyOf = q.options.map((o) => {
      const properties = { choice: { type: "string", enum: [o.label] } };
      for (const n of o.options || []) properties[n.name] = questionSchema(n);
      return { type: "object", properties, required: Object.keys(properties), additionalProperties: false };
    });
    return { anyOf, description: `${q.name}: one of ${labels.join(", ")} as \`choice\`, with the questions of the option chosen` };
  }
  if (q.type === "radio") return { type: "string", enum: labels, description: `${q.name}: one of ${labels.join(", ")}` };
  if (q.type === "checklist") return { type: "array", items: { type: "string", enum: labels }, uniqueItems: true, description: `${q.name}: any of ${labels.join(", ")}` };
  if (q.type === "text") return { type: "string", description: q.name };
  if (q.type === "numeric") return { type: "number", description: q.name };
  throw new LabelError(`question \`${q.name}\` of type ${q.type} is not supported in a schema`);
}

/** Exactly `questions` in `value` (`ignore` aside), or a LabelError. */
function checkKeys(questions, value, ignore, of) {
  const names = questions.map((q) => q.name);
  const extra = Object.keys(value).filter((k) => k !== ignore && !names.includes(k));
  if (extra.length) throw new LabelError(`the model's answer has ${extra.join(", ")}, not in the schema${of}`);
  const missing = names.filter((n) => !(n in value));
  if (missing.length) throw new LabelError(`the model's answer lacks \`${missing[0]}\`${of}`);
}

/** The [question name, answer] pairs `value` gives question `q`, checked:
 * its own first, then the nested questions of the option chosen. */
function answersOf(q, value) {
  if (isNested(q)) {
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      throw new LabelError(`\`${q.name}\`: ${JSON.stringify(value)} is not an object with \`choice\` and the questions of that option`);
    }
    const choice = value.choice ?? null;
    answersOf({ ...q, options: q.options.map((o) => ({ ...o, options: [] })) }, choice);
    const option = q.options.find((o) => o.label === choice);
    const of = ` of \`${q.name}\`: \`${choice}\``;
    checkKeys(option.options || [], value, "choice", of);
    return [[q.name, choice], ...(option.options || []).flatMap((n) => answersOf(n, value[n.name]))];
  }
  const labels = (q.options || []).map((o) => o.label);
  const ok =
    q.type === "radio" ? labels.includes(value)
    : q.type === "checklist" ? Array.isArray(value) && value.every((v) => labels.includes(v))
    : q.type === "text" ? typeof value === "string"
    : q.type === "numeric" ? typeof value === "number"
    : false;
  if (!ok) {
    const want = q.type === "radio" ? `one of ${labels.join(", ")}` : q.type === "checklist" ? `a list of ${labels.join(", ")}` : q.type === "numeric" ? "a number" : "a string";
    throw new LabelError(`\`${q.name}\`: ${JSON.stringify(value)} is not ${want}`);
  }
  return [[q.name, q.type === "checklist" ? [...new Set(value)] : value]];
}

function parseAnswer(answer) {
  let value = answer;
  if (typeof answer === "string") {
    try {
      value = JSON.parse(answer);
    } catch (e) {
      throw new LabelError(`the model's answer is not JSON: ${e.message}`);
    }
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new LabelError(`the model's answer is not a JSON object: ${JSON.stringify(value)}`);
  return value;
}

const SCHEMA = "https://json-schema.org/draft/2020-12/schema";

/** encord-agents' `OntologyDataModel`: `schema()` for a model's structured
 * output, and the answer checked as a whole before any of it is written.
 *
 * Classifications (`new OntologyDataModel(ontology, ["Quality", ...])`):
 * one property per question; `apply(row, answer, frames)` adds them.
 * Objects (`new OntologyDataModel(ontology, ["Person", ...], { objects: true })`):
 * a choice among the types (`object`, its name) with each one's attributes;
 * `choose(answer)` gives `{ object, answers }`, and `apply(row, answer,
 * { frame, shape })` adds that object with its answers and returns its hash.
 * Radio: one option label (or, with nested questions, `{ choice, ...they }`);
 * checklist: a list of labels; text: a string; numeric: a number. */
export class OntologyDataModel {
  constructor(ontology, names, { objects = false } = {}) {
    this.objects = objects ? names.map((n) => ontology.object(n)) : null;
    this.questions = objects ? [] : names.map((n) => ontology.classification(n).attributes[0]);
  }
  schema() {
    if (this.objects) {
      const anyOf = this.objects.map((o) => {
        const properties = { object: { type: "string", const: o.name } };
        for (const a of o.attributes || []) properties[a.name] = questionSchema(a);
        return { title: o.name, type: "object", properties, required: Object.keys(properties), additionalProperties: false };
      });
      return { $schema: SCHEMA, title: "Object", anyOf };
    }
    const properties = {};
    for (const q of this.questions) properties[q.name] = questionSchema(q);
    return { $schema: SCHEMA, title: "Labels", type: "object", properties, required: Object.keys(properties), additionalProperties: false };
  }
  /** The object type an answer chose and its [attribute, answer] pairs. */
  choose(answer) {
    if (!this.objects) throw new LabelError("choose() is for a model of objects: pass { objects: true }");
    const value = parseAnswer(answer);
    const o = this.objects.find((x) => x.name === value.object);
    if (!o) throw new LabelError(`the model's answer names object ${JSON.stringify(value.object ?? null)}, not one of ${this.objects.map((x) => x.name).join(", ")}`);
    const of = ` of \`${o.name}\``;
    checkKeys(o.attributes || [], value, "object", of);
    return { object: o.name, answers: (o.attributes || []).flatMap((a) => answersOf(a, value[a.name])) };
  }
  /** Checks `answer` (JSON text or an object) and writes it into `row`:
   * classifications over `frames` ([first, last]), or, for objects, one
   * object on `{ frame, shape }` (returns its hash). */
  apply(row, answer, where = [0, 0]) {
    if (this.objects) {
      const { frame = 0, shape } = Array.isArray(where) ? {} : where;
      if (!shape) throw new LabelError("apply() on a model of objects needs { frame, shape } for the object");
      const chosen = this.choose(answer);
      const hash = row.addObject(chosen.object, frame, shape);
      for (const [name, a] of chosen.answers) row.setObjectAnswer(hash, name, a);
      return hash;
    }
    const value = parseAnswer(answer);
    checkKeys(this.questions, value, null, ` (${this.questions.map((q) => q.name).join(", ")})`);
    // The whole answer is checked before anything is written.
    const given = this.questions.map((q) => answersOf(q, value[q.name]));
    for (const [[name, top], ...nested] of given) {
      const hash = row.addClassification(name, top, where);
      for (const [n, a] of nested) row.setClassificationAnswer(hash, n, a);
    }
    return row;
  }
}

function* frames(resource) {
  try {
    for (;;) {
      const f = hostCall(() => resource.next());
      if (f === null || f === undefined) return;
      yield new Frame(f);
    }
  } finally {
    resource[Symbol.dispose]?.();
  }
}

// ---------------------------------------------------------------------------
// Models (wasi:nn) and the host's vision helpers (docs/models.md)

/** A model or tensor the host refused, with wasi:nn's error code. */
export class NnError extends Error {
  constructor(message, code = "runtime-error") {
    super(message);
    this.name = "NnError";
    this.code = code;
  }
}

function nnCall(what, fn) {
  try {
    return fn();
  } catch (e) {
    const payload = e && typeof e === "object" && "payload" in e ? e.payload : e;
    if (payload && typeof payload.data === "function") {
      const code = String(payload.code());
      throw new NnError(`${what}: ${payload.data()} (${code})`, code);
    }
    throw new NnError(`${what}: ${typeof payload === "string" ? payload : String(payload)}`);
  }
}

/** A tensor held by the host: a model's input or output. */
export class Tensor {
  constructor(handle) {
    this.handle = handle;
  }
  /** A tensor of these dimensions, element type ("FP32", "U8", ...) and little-endian bytes. */
  static of(dims, type, bytes) {
    return new Tensor(nnCall("tensor", () => new tensorApi.Tensor(Array.from(dims), type, bytes)));
  }
  static fromF32(dims, values) {
    return Tensor.of(dims, "FP32", new Uint8Array(Float32Array.from(values).buffer));
  }
  get dims() {
    return Array.from(this.handle.dimensions());
  }
  get type() {
    return this.handle.ty();
  }
  bytes() {
    return new Uint8Array(this.handle.data());
  }
  toF32() {
    const b = this.bytes();
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
}

/** A model's outputs by name, in the model's order. */
export class Outputs {
  constructor(pairs) {
    this.pairs = pairs.map(([name, t]) => [name, new Tensor(t)]);
  }
  get(name) {
    const found = this.pairs.find(([n]) => n === name);
    if (!found) throw new NnError(`no output \`${name}\`; the model gave ${this.names().join(", ")}`, "invalid-argument");
    return found[1];
  }
  first() {
    if (!this.pairs.length) throw new NnError("the model gave no output");
    return this.pairs[0][1];
  }
  names() {
    return this.pairs.map(([n]) => n);
  }
}

/** A granted model, ready to run. */
export class Model {
  constructor(name, graph, context) {
    this.name = name;
    this.graph = graph;
    this.context = context;
  }
  /** Runs the model on named inputs, `{ x: tensor }` (each given up to the host). */
  run(inputs) {
    const pairs = Object.entries(inputs).map(([name, t]) => [name, t.handle]);
    return new Outputs(nnCall(`model \`${this.name}\``, () => this.context.compute(pairs)));
  }
}

const box = (b) => ({ x: b.x, y: b.y, w: b.w, h: b.h });

/** Models the operator granted (`--model NAME=PATH`) and the vision helpers. */
export const nn = {
  /** Opens the model granted under `name`. */
  load(name) {
    const graph = nnCall(`model \`${name}\``, () => graphApi.loadByName(name));
    return new Model(name, graph, nnCall(`model \`${name}\``, () => graph.initExecutionContext()));
  },
  /** The frame as an f32 tensor made in the host: `{ tensor, placement }`. */
  frameTensor(frame, { width, height, resize = "stretch", layout = "nchw", channels = "rgb", mean = [0, 0, 0], std = [1, 1, 1], pad = 0 }) {
    const wit = { index: frame.index ?? 0, width: frame.width, height: frame.height, rgb: frame.rgb };
    const options = { width, height, resize, layout, channels, mean, std, pad };
    const p = nnCall("frameTensor", () => visionApi.frameTensor(wit, options));
    return { tensor: new Tensor(p.tensor), placement: p.placement };
  },
  /** Regions of a probability map (PP-OCR / DBNet text detectors, segmenters):
   * `[{ polygon: [{x, y}], boundingBox: {x, y, w, h}, score }]`, PP-OCR's defaults. */
  probabilityRegions(map, placement, { threshold = 0.3, boxThreshold = 0.6, unclipRatio = 1.5, minSide = 3, maxRegions = 1000 } = {}) {
    const options = { threshold, boxThreshold, unclipRatio, minSide, maxRegions };
    return nnCall("probabilityRegions", () => visionApi.probabilityRegions(map.handle, placement, options)).map((r) => ({
      polygon: r.polygon.map((p) => ({ x: p.x, y: p.y })),
      boundingBox: box(r.boundingBox),
      score: r.score,
    }));
  },
  /** The image pixels whose value in `mask` is above `threshold`, as an Encord
   * bitmask over the whole image: `{ width, height, rle }`. */
  maskBitmask(mask, placement, threshold = 0.5) {
    const m = nnCall("maskBitmask", () => visionApi.maskBitmask(mask.handle, placement, threshold));
    return { width: m.width, height: m.height, rle: m.rle };
  },
  /** Boxes from a YOLO detector's output ("v5", "v8" or "yolox") after per-class NMS. */
  yoloDetections(output, placement, { format = "v8", scoreThreshold = 0.25, iouThreshold = 0.45, maxDetections = 300 } = {}) {
    const options = { format, scoreThreshold, iouThreshold, maxDetections };
    return nnCall("yoloDetections", () => visionApi.yoloDetections(output.handle, placement, options)).map((d) => ({
      boundingBox: box(d.boundingBox),
      score: d.score,
      classIndex: d.classIndex,
    }));
  },
};

// ---------------------------------------------------------------------------
// Dependencies

const NEEDS = ["label-row", "label-row-metadata", "storage-item", "asset", "frames"];

/** Your own dependency: built from what it `needs` (like a handler's) by
 * `build`, once per task however many handlers and dependencies need it. */
export function dependency(needs, build, name = build.name || "dependency") {
  if (typeof build !== "function") throw new TypeError("dependency(needs, build): build must be a function");
  for (const [key, dep] of Object.entries(needs || {})) {
    if (!dep || !dep.isDependency) throw new TypeError(`dependency \`${name}\`: \`${key}\` is not a dependency (use a built-in or dependency(...))`);
  }
  return { isDependency: true, name, needs: needs || {}, build, loads: [], twins: {} };
}

/** A built-in dependency: what the host `loads` for it (WIT needs). */
function builtin(name, loads, build, twins = {}) {
  return { isDependency: true, builtin: true, name, needs: {}, build, loads, twins };
}

function loadsOf(dep, acc = { loads: new Set(), twins: {} }) {
  for (const n of dep.loads) acc.loads.add(n);
  for (const [h, t] of Object.entries(dep.twins)) acc.twins[h] = acc.twins[h] || t;
  for (const sub of Object.values(dep.needs)) loadsOf(sub, acc);
  return acc;
}

/** The task's label row (a LabelRow). */
export const labelRow = builtin("labelRow", ["label-row"], (cx) => cx.labelRow());
/** The project's ontology (an Ontology). */
export const ontology = builtin("ontology", [], (cx) => cx.ontology());
/** The storage item behind the task's data; `.setClientMetadata(obj)`
 * replaces its client metadata with the task's other writes. */
export const storageItem = builtin("storageItem", ["storage-item"], () => {
  const item = hostCall(() => dataApi.item());
  return {
    ...item,
    clientMetadata: JSON.parse(item.clientMetadata || "{}"),
    setClientMetadata(value) {
      hostCall(() => dataApi.setClientMetadata(JSON.stringify(value)));
      this.clientMetadata = value;
    },
  };
});
/** The data unit's bytes (a Uint8Array); a function of the image-group frame. */
export const assetBytes = builtin("assetBytes", ["asset"], () => (frame) => new Uint8Array(hostCall(() => dataApi.assetBytes(frame ?? null))));
/** The data unit as a read-only file inside the sandbox. */
export const assetPath = builtin("assetPath", ["asset"], () => hostCall(() => dataApi.assetPath()));
/** Frame 0 of an image, video, image group or image sequence (a Frame). */
export const firstFrame = builtin("firstFrame", ["frames"], () => new Frame(hostCall(() => dataApi.firstFrame())));
/** Every frame in order, decoded as they are read (an iterator of Frame). */
export const videoFrames = builtin("videoFrames", ["frames"], () => frames(hostCall(() => dataApi.allFrames())));
/** A sampler: `sample(rate)` with rate in (0, 1], or `sample([indices])`. */
export const videoSampler = builtin("videoSampler", ["frames"], () => (what) =>
  frames(hostCall(() => (Array.isArray(what) ? dataApi.sampleFrames(what) : dataApi.sampleRate(what)))),
);
/** The project: { projectHash, title, description, ontologyHash }. */
export const project = builtin("project", [], () => projectApi.info());
/** The stage being run: { uuid, title, pathways: [{ uuid, name, destinationUuid }] }. */
export const currentStage = builtin("currentStage", [], () => projectApi.currentStage());

/** The label row (a LabelRow, read with the twin project's own ontology)
 * and, with `includeTask`, the task of this task's data in project
 * `projectHash`; null when that project has no such data. Loaded once per
 * batch. `save()` writes the (edited) row back to the twin project, as
 * encord-agents' `twin.label_row.save()` does: checked at once against the
 * twin's ontology (it throws if the row does not fit), written with the
 * batch's label saves before any task moves, only if the handler succeeds. */
export function twin(projectHash, { includeTask = false } = {}) {
  return builtin(`twin(${projectHash})`, [], () => {
    const found = hostCall(() => twinsApi.find(projectHash));
    if (!found) return null;
    const ontology = new Ontology(JSON.parse(hostCall(() => twinsApi.ontology(projectHash))));
    const labelRow = new LabelRow(JSON.parse(found.labelRow), ontology);
    let stageValue;
    return {
      labelRow,
      task: found.task ? withDetails(found.task) : null,
      stageUuid: found.stageUuid ?? null,
      save: (row = labelRow) => hostCall(() => twinsApi.save(projectHash, JSON.stringify(row.toJSON()))),
      /** The stage the twin's task sits in ({ uuid, title, stageType,
       * pathways }), or null without a twin task. */
      get stage() {
        if (stageValue === undefined) stageValue = hostCall(() => twinsApi.stage(projectHash)) ?? null;
        return stageValue;
      },
      /** Moves the twin's task along `pathway` (name or uuid) of its agent
       * stage, after the batch's label saves (encord-agents'
       * `twin.task.proceed`). Throws if the pathway does not exist there. */
      proceed: (pathway) => hostCall(() => twinsApi.proceed(projectHash, pathway)),
    };
  }, { [projectHash]: includeTask });
}

/** The task with who and when (`assignee`, `lastActionedBy`, `createdAt`,
 * `updatedAt`) read from the host the first time one is used. */
function withDetails(task) {
  let details;
  const get = (key) => () => {
    details ??= hostCall(() => tasksApi.details(task.uuid));
    return details[key] ?? null;
  };
  for (const key of ["assignee", "lastActionedBy", "createdAt", "updatedAt"]) {
    Object.defineProperty(task, key, { get: get(key), enumerable: true });
  }
  return task;
}

// ---------------------------------------------------------------------------
// Stages

const stages = [];
let onStart = null;
const onInit = [];

/** Registers the handler of an agent stage (title or uuid).
 *  options.needs: { name: dependency } handed to the handler with `task`;
 *  options.pathways: the pathways it may return (checked before any task);
 *  options.labelRowOptions: encord-agents' include/initialise arguments. */
export function stage(name, options, handler) {
  if (typeof options === "function") [options, handler] = [{}, options];
  if (typeof handler !== "function") throw new TypeError(`stage("${name}"): the handler must be a function`);
  if (stages.some((s) => s.stage === name)) throw new Error(`stage \`${name}\` already has a handler: one handler per stage`);
  if (options.uses !== undefined) throw new TypeError(`stage("${name}"): the option \`uses\` is now \`needs\``);
  const root = dependency(options.needs || {}, handler, handler.name || name);
  stages.push({ stage: String(name), handler: handler.name || "handler", root, pathways: (options.pathways || []).map(String), labelRowOptions: options.labelRowOptions || {} });
}

/** Runs once before any task (encord-agents' pre_execution_callback). */
export function start(callback) {
  onStart = callback;
}

/** Runs on every new instance before its first task (set-up paid once per
 * instance with `--reuse-instance N`); several run in registration order.
 * A throw fails that task with its message. */
export function init(callback) {
  if (typeof callback !== "function") throw new TypeError("init(callback): callback must be a function");
  onInit.push(callback);
}

const hostSource = {
  ontology: () => JSON.parse(projectApi.ontology()),
  labelRow: () => JSON.parse(hostCall(() => labelsApi.labelRow())),
};

function taskContext(source = hostSource) {
  let ontologyValue = null;
  let row = null;
  const cache = new Map();
  const cx = {
    ontology() {
      return (ontologyValue ??= new Ontology(source.ontology()));
    },
    labelRow() {
      return (row ??= new LabelRow(source.labelRow(), cx.ontology()));
    },
    solve(dep, task) {
      if (cache.has(dep)) return cache.get(dep);
      let value;
      if (dep.builtin) {
        value = dep.build(cx);
      } else {
        const args = { task };
        for (const [key, sub] of Object.entries(dep.needs)) args[key] = cx.solve(sub, task);
        value = dep.build(args);
      }
      cache.set(dep, value);
      return value;
    },
  };
  return cx;
}

function decision(result, stageName) {
  if (result === null || result === undefined) return { route: { tag: "stay" }, labelRow: null, priority: null };
  if (typeof result === "string") return { route: { tag: "pathway", val: result }, labelRow: null, priority: null };
  if (typeof result === "object") {
    const row = result.labelRow;
    if (row !== undefined && row !== null && !(row instanceof LabelRow)) throw new TypeError("`labelRow` must be a LabelRow");
    const priority = result.priority ?? null;
    if (priority !== null && typeof priority !== "number") throw new TypeError("`priority` must be a number in [0, 1]");
    return {
      route: result.pathway ? { tag: "pathway", val: String(result.pathway) } : { tag: "stay" },
      labelRow: row ? JSON.stringify(row.json) : null,
      priority,
    };
  }
  throw new TypeError(`the handler of \`${stageName}\` returned ${typeof result}; return a pathway, null, or { pathway, labelRow, priority }`);
}

function message(e) {
  if (e instanceof Error) {
    const where = (e.stack || "").split("\n").map((l) => l.trim()).find((l) => l.startsWith("at ") && !l.includes("encord-agent"));
    const text = e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : e.message;
    return where ? `${text} (${where.replace(/\(?[^()]*\/([^/()]+:\d+(?::\d+)?)\)?/, "$1")})` : text;
  }
  return String(e);
}

function spec(s) {
  const { loads, twins } = loadsOf(s.root);
  const o = s.labelRowOptions;
  return {
    stage: s.stage,
    handler: s.handler,
    needs: NEEDS.filter((n) => loads.has(n)),
    labelRowOptions: {
      includeWorkflowGraphNode: o.includeWorkflowGraphNode ?? true,
      includeClientMetadata: o.includeClientMetadata ?? false,
      includeImagesData: o.includeImagesData ?? false,
      includeAllLabelBranches: o.includeAllLabelBranches ?? false,
      branchName: o.branchName ?? null,
      includeChildren: o.includeChildren ?? false,
      includeObjectFeatureHashes: o.includeObjectFeatureHashes ?? null,
      includeClassificationFeatureHashes: o.includeClassificationFeatureHashes ?? null,
      includeReviews: o.includeReviews ?? false,
      includeSignedUrl: o.includeSignedUrl ?? false,
    },
    pathways: s.pathways,
    twins: Object.entries(twins).map(([projectHash, includeTask]) => ({ projectHash, includeTask })),
  };
}

/** Runs the handler of stage `name` once, natively (no component, no host:
 * under Node with `--import encord-agent/native/register.mjs`), with the
 * label row and ontology given as JSON (text or parsed) and the task's
 * fields (`dataTitle`, ...). Returns `{ pathway, labelRow, priority }`:
 * the pathway (null: the task stays), the LabelRow returned to be saved (or
 * null) and the priority. A handler's throw propagates, as a failed task's
 * would; what only the host has (media, storage items, HTTP, models, twins)
 * throws "... is not available outside a component". */
export function testStage(name, { ontology: ontologyJson, labelRow: rowJson = null, task = {} } = {}) {
  const s = stages.find((x) => x.stage === name);
  if (!s) throw new Error(`no stage \`${name}\` registered (stages: ${stages.map((x) => x.stage).join(", ") || "none"})`);
  if (ontologyJson === undefined) throw new TypeError("testStage: give the ontology (Encord's ontology JSON)");
  const parse = (v) => (typeof v === "string" ? JSON.parse(v) : JSON.parse(JSON.stringify(v)));
  const row = rowJson === null ? null : parse(rowJson);
  const source = {
    ontology: () => parse(ontologyJson),
    labelRow: () => {
      if (row === null) throw new Error("this stage reads the label row: pass labelRow to testStage");
      return row;
    },
  };
  const full = { uuid: "test-task", dataHash: row?.data_hash ?? "test-data", dataTitle: row?.data_title ?? "test-data", labelBranchName: "main", status: "NEW", ...task };
  const cx = taskContext(source);
  const out = decision(cx.solve(s.root, full), name);
  const pathway = out.route.tag === "pathway" ? out.route.val : null;
  if (pathway !== null && s.pathways.length && !s.pathways.includes(pathway)) {
    throw new Error(`stage \`${name}\` returned pathway \`${pathway}\`, not one it declares (${s.pathways.join(", ")})`);
  }
  return { pathway, labelRow: out.labelRow === null ? null : new LabelRow(JSON.parse(out.labelRow), cx.ontology()), priority: out.priority };
}

/** The export runner-host calls: re-export it from your agent module with
 * `export { handler } from "encord-agent";`. */
export const handler = {
  stages() {
    return stages.map(spec);
  },
  start() {
    if (!onStart) return;
    try {
      onStart();
    } catch (e) {
      throw message(e);
    }
  },
  run(stageName, task) {
    const s = stages.find((x) => x.stage === stageName);
    if (!s) throw `this agent has no handler for stage \`${stageName}\``;
    try {
      const cx = taskContext();
      return decision(cx.solve(s.root, withDetails(task)), stageName);
    } catch (e) {
      throw message(e);
    }
  },
};

/** `lifecycle.init`, exported for the host by the build (scripts/build-agent.sh
 * adds it to the component; the agent module need not export it). */
export const lifecycle = {
  init() {
    try {
      for (const callback of onInit) callback();
    } catch (e) {
      throw message(e);
    }
  },
};
