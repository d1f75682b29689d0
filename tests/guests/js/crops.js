// Crops to an object's shape for a model API, in the host: a rotated box is
// cropped to the box holding it (rotated in pixels), a polygon to its
// points' bounds. Each crop must be the size the equivalent plain box gives
// (to a pixel: the two boxes' corners are computed apart, in floating point);
// the result (or what differed) is written as the Caption.

import { firstFrame, labelRow, stage } from "encord-agent";
export { handler } from "encord-agent";

const same = (a, b) => Math.abs(a.width - b.width) <= 1 && Math.abs(a.height - b.height) <= 1;

stage("pre-label", { needs: { row: labelRow, frame: firstFrame }, pathways: ["to triage"] }, ({ row, frame }) => {
  // 0.2 x 0.2 of the image about (0.4, 0.3), turned 90 degrees: in pixels
  // its width becomes its height, so in fractions w = 0.2 H / W and h = 0.2 W / H.
  const [rw, rh] = [(0.2 * frame.height) / frame.width, (0.2 * frame.width) / frame.height];
  const turned = { x: 0.4 - rw / 2, y: 0.3 - rh / 2, w: rw, h: rh };
  const cases = [
    [{ rotatableBoundingBox: { x: 0.3, y: 0.2, w: 0.2, h: 0.2, theta: 90 } }, turned],
    [{ polygon: [{ x: 0.2, y: 0.5 }, { x: 0.6, y: 0.1 }, { x: 0.4, y: 0.9 }] }, { x: 0.2, y: 0.1, w: 0.4, h: 0.8 }],
    [{ boundingBox: { x: 0.1, y: 0.1, w: 0.5, h: 0.5 } }, { x: 0.1, y: 0.1, w: 0.5, h: 0.5 }],
  ];
  const wrong = [];
  for (const [shape, box] of cases) {
    const a = frame.encode({ format: "png", crop: shape, padding: 0.1 });
    const b = frame.encode({ format: "png", crop: box, padding: 0.1 });
    if (!same(a, b)) wrong.push(`${Object.keys(shape)[0]}: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  const rotated = frame.encode({ format: "png", crop: cases[0][0] });
  const expect = [Math.round(0.2 * frame.height), Math.round(0.2 * frame.width)];
  if (Math.abs(rotated.width - expect[0]) > 1 || Math.abs(rotated.height - expect[1]) > 1) {
    wrong.push(`rotated crop ${rotated.width}x${rotated.height}, not about ${expect.join("x")}`);
  }
  row.addClassification("Caption", wrong.length ? wrong.join("; ") : `crops ok ${rotated.width}x${rotated.height}`, [0, 0]);
  return { pathway: "to triage", labelRow: row };
});
