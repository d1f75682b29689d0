// Types of the runner-host JavaScript agent SDK (encord-agent.js).

export interface Task {
  uuid: string;
  dataHash: string;
  dataTitle: string;
  labelBranchName: string;
  /** NEW, ASSIGNED, RELEASED, SKIPPED, REOPENED or COMPLETED. */
  status: string;
  /** The user (email) the task is assigned to. */
  readonly assignee: string | null;
  /** The user (email) who last acted on the task. */
  readonly lastActionedBy: string | null;
  /** `2024-05-01T10:00:00.000000+00:00` */
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type Point = { x: number; y: number };
export type Shape =
  | { boundingBox: { x: number; y: number; w: number; h: number } }
  | { rotatableBoundingBox: { x: number; y: number; w: number; h: number; theta: number } }
  | { polygon: Point[] }
  | { polyline: Point[] }
  | { point: Point };

/** A radio option label, checklist labels, a text or a number. */
export type Answer = string | string[] | number;

export interface ObjectInstance {
  objectHash: string;
  featureHash: string;
  name: string;
  frames: { frame: number; shape: Shape }[];
  answers: Record<string, Answer>;
}

export interface ClassificationInstance {
  classificationHash: string;
  featureHash: string;
  name: string;
  ranges: [number, number][];
  answer: Answer | undefined;
  answers: Record<string, Answer>;
}

export class LabelError extends Error {}

export class Ontology {
  constructor(json: any);
  json: any;
  objects: any[];
  classifications: any[];
  object(name: string): any;
  classification(name: string): any;
}

export class LabelRow {
  constructor(json: any, ontology: Ontology);
  json: any;
  ontology: Ontology;
  readonly dataHash: string;
  readonly dataTitle: string;
  /** `image`, `video`, `img_group`, ... */
  readonly dataType: string;
  objects(name?: string): ObjectInstance[];
  classifications(name?: string): ClassificationInstance[];
  classification(name: string): ClassificationInstance | undefined;
  /** `confidence` in [0, 1] (default 1.0): a model's score where one placed it. */
  addObject(name: string, frame: number, shape: Shape, options?: { confidence?: number }): string;
  addObjectFrame(objectHash: string, frame: number, shape: Shape, options?: { confidence?: number }): void;
  setObjectAnswer(objectHash: string, attribute: string, answer: Answer): void;
  addClassification(name: string, answer: Answer, frames?: [number, number]): string;
  /** Answers a nested question (under an option of its radio question). */
  setClassificationAnswer(classificationHash: string, attribute: string, answer: Answer): void;
  removeObject(objectHash: string): boolean;
  removeClassification(classificationHash: string): boolean;
  toJSON(): any;
}

export class Frame {
  /** encord-agents' `Frame.b64_encoding`: defaults ".jpeg" and "url". */
  b64Encoding(imageFormat?: ".jpeg" | ".jpg" | ".png" | "jpeg" | "png", outputFormat?: "raw" | "url" | "openai" | "anthropic", options?: { quality?: number; crop?: Box | Shape | null; padding?: number; maxSide?: number | null }): string | Record<string, unknown>;
  encode(options?: { format?: "png" | "jpeg"; quality?: number; crop?: Box | Shape | null; padding?: number; maxSide?: number | null }): { bytes: Uint8Array; mediaType: string; width: number; height: number };
  index: number;
  width: number;
  height: number;
  /** RGB8, row-major, width * height * 3 bytes. */
  rgb: Uint8Array;
  pixel(x: number, y: number): [number, number, number];
  meanBrightness(): number;
}

export interface StorageItem {
  uuid: string;
  name: string;
  itemType: string;
  mimeType: string | null;
  fileSize: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  duration: number | null;
  frameCount: number | null;
  clientMetadata: Record<string, unknown>;
  children: string[];
  setClientMetadata(value: Record<string, unknown>): void;
}

export interface Twin {
  /** Read with the twin project's own ontology. */
  labelRow: LabelRow;
  task: Task | null;
  stageUuid: string | null;
  /** Saves `row` (by default `labelRow`) to the twin project: checked now
   * against its ontology (throws if it does not fit), written with the
   * batch's label saves before any task moves, if the handler succeeds. */
  save(row?: LabelRow): void;
  /** The stage the twin's task sits in, or null without a twin task. */
  readonly stage: { uuid: string; title: string; stageType: string; pathways: { uuid: string; name: string; destinationUuid: string }[] } | null;
  /** Moves the twin's task along `pathway` (name or uuid) of its agent stage,
   * after the batch's label saves; throws if it has no such pathway. */
  proceed(pathway: string): void;
}

/** Something a handler or another dependency needs; built once per task. */
export interface Dependency<T> {
  readonly isDependency: true;
  readonly name: string;
  /** @internal */ readonly __value?: T;
}

type Values<U> = { [K in keyof U]: U[K] extends Dependency<infer T> ? T : never };

export function dependency<U extends Record<string, Dependency<any>>, T>(
  needs: U,
  build: (args: { task: Task } & Values<U>) => T,
  name?: string,
): Dependency<T>;

export const labelRow: Dependency<LabelRow>;
export const ontology: Dependency<Ontology>;
export const storageItem: Dependency<StorageItem>;
export const assetBytes: Dependency<(frame?: number) => Uint8Array>;
export const assetPath: Dependency<string>;
export const firstFrame: Dependency<Frame>;
export const videoFrames: Dependency<Iterable<Frame>>;
export const videoSampler: Dependency<(what: number | number[]) => Iterable<Frame>>;
export const project: Dependency<{ projectHash: string; title: string; description: string; ontologyHash: string }>;
export const currentStage: Dependency<{ uuid: string; title: string; pathways: { uuid: string; name: string; destinationUuid: string }[] } | null>;
export function twin(projectHash: string, options?: { includeTask?: boolean }): Dependency<Twin | null>;

/** A pathway name or uuid, null/undefined to stay, or the full decision. */
export type Decision = string | null | undefined | { pathway?: string | null; labelRow?: LabelRow | null; priority?: number | null };

export interface LabelRowOptions {
  includeWorkflowGraphNode?: boolean;
  includeClientMetadata?: boolean;
  includeImagesData?: boolean;
  includeAllLabelBranches?: boolean;
  branchName?: string | null;
  includeChildren?: boolean;
  includeObjectFeatureHashes?: string[] | null;
  includeClassificationFeatureHashes?: string[] | null;
  includeReviews?: boolean;
  includeSignedUrl?: boolean;
}

export function stage<U extends Record<string, Dependency<any>>>(
  name: string,
  options: { needs?: U; pathways?: string[]; labelRowOptions?: LabelRowOptions },
  handler: (args: { task: Task } & Values<U>) => Decision,
): void;
export function stage(name: string, handler: (args: { task: Task }) => Decision): void;

export function start(callback: () => void): void;

/** Runs on every new instance before its first task (once per instance with
 * `--reuse-instance N`); a throw fails that task with its message. */
export function init(callback: () => void): void;

export const log: Record<"trace" | "debug" | "info" | "warn" | "error", (...parts: unknown[]) => void>;

/** The value of an environment variable the operator granted (`--env`). */
export function env(name: string): string | null;

export function base64(bytes: Uint8Array): string;

export class HttpError extends Error {
  response: HttpResponse | null;
}
/** The host is not granted (`--allow-net`): nothing was sent. */
export class HttpDenied extends HttpError {}
/** No whole answer within the request's timeout. */
export class HttpTimeout extends HttpError {}

export class HttpResponse {
  status: number;
  headers: Record<string, string>;
  bytes: Uint8Array;
  url: string;
  readonly ok: boolean;
  text(): string;
  json(): any;
  raiseForStatus(): HttpResponse;
}

export interface HttpOptions {
  json?: unknown;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Seconds. */
  timeout?: number | null;
}

/** One blocking request; the answer whatever its status. */
export const http: {
  request(method: string, url: string, options?: HttpOptions): HttpResponse;
  get(url: string, options?: HttpOptions): HttpResponse;
  post(url: string, options?: HttpOptions): HttpResponse;
  put(url: string, options?: HttpOptions): HttpResponse;
  patch(url: string, options?: HttpOptions): HttpResponse;
  delete(url: string, options?: HttpOptions): HttpResponse;
};

/** encord-agents' `OntologyDataModel`: the ontology as a JSON schema for a
 * model's structured output, and its answer checked as a whole before any
 * of it is written. A radio question with nested questions is answered
 * `{ choice, ...nested }`. */
export class OntologyDataModel {
  constructor(ontology: Ontology, names: string[], options?: { objects?: boolean });
  schema(): Record<string, unknown>;
  /** Objects only: the type chosen and its [attribute, answer] pairs. */
  choose(answer: string | object): { object: string; answers: [string, Answer][] };
  /** Classifications over `frames`; objects on `{ frame, shape }` (returns the object's hash). */
  apply(row: LabelRow, answer: string | object, where?: [number, number] | { frame?: number; shape: Shape }): LabelRow | string;
}

/** Runs stage `name`'s handler once natively (under Node with
 * `--import encord-agent/native/register.mjs`): no component, no host. */
export function testStage(
  name: string,
  input: { ontology: string | object; labelRow?: string | object | null; task?: Partial<Task> },
): { pathway: string | null; labelRow: LabelRow | null; priority: number | null };

/** Re-export from your agent: `export { handler } from "encord-agent";` */
export const handler: unknown;

/** `lifecycle.init` (runs the `init` callbacks); scripts/build-agent.sh
 * exports it, or re-export it yourself with the world `agent-with-init`. */
export const lifecycle: unknown;

// Models (wasi:nn) and the host's vision helpers (docs/models.md).

export type TensorType = "FP16" | "FP32" | "FP64" | "BF16" | "U8" | "I32" | "I64";

/** A model or tensor the host refused, with wasi:nn's error code. */
export class NnError extends Error {
  code: string;
}

/** A tensor held by the host. */
export class Tensor {
  static of(dims: number[], type: TensorType, bytes: Uint8Array): Tensor;
  static fromF32(dims: number[], values: ArrayLike<number>): Tensor;
  readonly dims: number[];
  readonly type: TensorType;
  bytes(): Uint8Array;
  toF32(): Float32Array;
}

export class Outputs {
  get(name: string): Tensor;
  first(): Tensor;
  names(): string[];
}

export class Model {
  readonly name: string;
  /** Runs the model on named inputs (each tensor is given up to the host). */
  run(inputs: Record<string, Tensor>): Outputs;
}

/** Where the image lies in a tensor (pass it back to the helpers as is). */
export interface Placement {
  imageWidth: number;
  imageHeight: number;
  tensorWidth: number;
  tensorHeight: number;
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
}

export interface Box { x: number; y: number; w: number; h: number }

export const nn: {
  load(name: string): Model;
  frameTensor(
    frame: Frame,
    options: {
      width: number;
      height: number;
      resize?: "stretch" | "letterbox" | "fit-top-left";
      layout?: "nchw" | "nhwc";
      channels?: "rgb" | "bgr";
      mean?: [number, number, number];
      std?: [number, number, number];
      pad?: number;
    },
  ): { tensor: Tensor; placement: Placement };
  probabilityRegions(
    map: Tensor,
    placement: Placement,
    options?: { threshold?: number; boxThreshold?: number; unclipRatio?: number; minSide?: number; maxRegions?: number },
  ): { polygon: { x: number; y: number }[]; boundingBox: Box; score: number }[];
  maskBitmask(mask: Tensor, placement: Placement, threshold?: number): { width: number; height: number; rle: string };
  yoloDetections(
    output: Tensor,
    placement: Placement,
    options?: { format?: "v5" | "v8" | "yolox"; scoreThreshold?: number; iouThreshold?: number; maxDetections?: number },
  ): { boundingBox: Box; score: number; classIndex: number }[];
};
