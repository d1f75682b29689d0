// Pre-labels every text region of an image as a `Region` polygon with the
// PP-OCRv4 text detector the operator grants as `text-detector`: the
// JavaScript twin of examples/text-regions (Rust), giving the same regions.
//
//   runner-host --component text_regions.wasm --model text-detector=ch_PP-OCRv4_det_infer.onnx ...
//
// The model runs in the host (ONNX Runtime through wasi:nn); the frame's
// resize and normalisation and the probability map's regions are the host's
// vision helpers, so no JavaScript loops over pixels.

import { firstFrame, labelRow, log, nn, stage } from "encord-agent";
export { handler } from "encord-agent";

const MAX_SIDE = 960;

/** Each side a multiple of 32 (PP-OCR), the longer one at most 960. */
function inputSize(width, height) {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const side = (v) => Math.max(1, Math.round((v * scale) / 32)) * 32;
  return [side(width), side(height)];
}

stage("pre-label", { needs: { frame: firstFrame, row: labelRow }, pathways: ["to triage"] }, function textRegions({ frame, row }) {
  const model = nn.load("text-detector");
  const [width, height] = inputSize(frame.width, frame.height);
  const input = nn.frameTensor(frame, { width, height, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  const outputs = model.run({ x: input.tensor });
  const regions = nn.probabilityRegions(outputs.first(), input.placement);
  for (const region of regions) row.addObject("Region", 0, { polygon: region.polygon }, { confidence: region.score });
  log.info(`${regions.length} text region(s)`);
  return { pathway: "to triage", labelRow: row };
});
