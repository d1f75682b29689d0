//! Frames to tensors and model outputs back to labels, in the host so that
//! agents in every language get them at native speed. Output coordinates
//! are Encord's: fractions of the image's width and height.

/// How an image is fitted to the tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    Stretch,
    Letterbox,
    FitTopLeft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Nchw,
    Nhwc,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorOptions {
    pub width: u32,
    pub height: u32,
    pub resize: Resize,
    pub layout: Layout,
    pub bgr: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub pad: f32,
}

/// Where the image lies in the tensor: tensor = image * scale + offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub image_width: u32,
    pub image_height: u32,
    pub tensor_width: u32,
    pub tensor_height: u32,
    pub scale_x: f32,
    pub scale_y: f32,
    pub offset_x: f32,
    pub offset_y: f32,
}

impl Placement {
    /// A tensor point in normalised image coordinates, clamped to the image.
    pub fn normalise(&self, x: f32, y: f32) -> (f32, f32) {
        let ix = (x - self.offset_x) / self.scale_x;
        let iy = (y - self.offset_y) / self.scale_y;
        (
            (ix / self.image_width as f32).clamp(0.0, 1.0),
            (iy / self.image_height as f32).clamp(0.0, 1.0),
        )
    }

    fn check(&self) -> Result<(), String> {
        let ok = self.image_width > 0
            && self.image_height > 0
            && self.scale_x.is_finite()
            && self.scale_y.is_finite()
            && self.scale_x > 0.0
            && self.scale_y > 0.0
            && self.offset_x.is_finite()
            && self.offset_y.is_finite();
        if ok {
            Ok(())
        } else {
            Err(format!(
                "invalid placement {self:?}: use the one frame-tensor returned"
            ))
        }
    }
}

/// Largest tensor side accepted (a 16k × 16k × 3 f32 tensor is 3 GB).
const MAX_SIDE: u32 = 8192;

/// An RGB8 frame as an f32 tensor `[1, 3, H, W]` or `[1, H, W, 3]`.
pub fn frame_tensor(
    width: u32,
    height: u32,
    rgb: &[u8],
    o: &TensorOptions,
) -> Result<(Vec<f32>, Placement), String> {
    if width == 0 || height == 0 || rgb.len() != width as usize * height as usize * 3 {
        return Err(format!(
            "frame of {width}×{height} needs {} RGB bytes, got {}",
            width as usize * height as usize * 3,
            rgb.len()
        ));
    }
    if o.width == 0 || o.height == 0 || o.width > MAX_SIDE || o.height > MAX_SIDE {
        return Err(format!(
            "tensor size {}×{}: each side must be 1 to {MAX_SIDE}",
            o.width, o.height
        ));
    }
    if o.std.iter().any(|s| !s.is_finite() || *s == 0.0) || o.mean.iter().any(|m| !m.is_finite()) {
        return Err(format!(
            "std {:?} and mean {:?} must be finite, std non-zero",
            o.std, o.mean
        ));
    }
    let (tw, th) = (o.width as usize, o.height as usize);
    let (sx, sy) = match o.resize {
        Resize::Stretch => (
            o.width as f32 / width as f32,
            o.height as f32 / height as f32,
        ),
        Resize::Letterbox | Resize::FitTopLeft => {
            let s = (o.width as f32 / width as f32).min(o.height as f32 / height as f32);
            (s, s)
        }
    };
    // The area the image covers, in whole tensor pixels.
    let cw = ((width as f32 * sx).round() as usize).clamp(1, tw);
    let ch = ((height as f32 * sy).round() as usize).clamp(1, th);
    let (ox, oy) = match o.resize {
        Resize::Letterbox => ((tw - cw) / 2, (th - ch) / 2),
        _ => (0, 0),
    };
    // Exact scale of the covered area (what rounding made of it).
    let (sx, sy) = (cw as f32 / width as f32, ch as f32 / height as f32);
    let placement = Placement {
        image_width: width,
        image_height: height,
        tensor_width: o.width,
        tensor_height: o.height,
        scale_x: sx,
        scale_y: sy,
        offset_x: ox as f32,
        offset_y: oy as f32,
    };
    // value = pixel * a + b per tensor channel; channel c reads source ch[c].
    let src_ch: [usize; 3] = if o.bgr { [2, 1, 0] } else { [0, 1, 2] };
    let a: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * o.std[c]));
    let b: [f32; 3] = std::array::from_fn(|c| -o.mean[c] / o.std[c]);
    let pad: [f32; 3] = std::array::from_fn(|c| (o.pad - o.mean[c]) / o.std[c]);
    let mut out = vec![0f32; tw * th * 3];
    let plane = tw * th;
    let put = |out: &mut [f32], x: usize, y: usize, c: usize, v: f32| match o.layout {
        Layout::Nchw => out[c * plane + y * tw + x] = v,
        Layout::Nhwc => out[(y * tw + x) * 3 + c] = v,
    };
    // Bilinear sampling with pixel centres aligned (OpenCV's INTER_LINEAR).
    let xs = crate::media::bilinear_axis(cw, width as usize);
    let ys = crate::media::bilinear_axis(ch, height as usize);
    let row = width as usize * 3;
    for y in 0..th {
        for x in 0..tw {
            let inside = x >= ox && x < ox + cw && y >= oy && y < oy + ch;
            if !inside {
                for (c, &p) in pad.iter().enumerate() {
                    put(&mut out, x, y, c, p);
                }
                continue;
            }
            let (sx, sy) = (xs[x - ox], ys[y - oy]);
            for c in 0..3 {
                let v = crate::media::bilinear_rgb(rgb, row, sx, sy, src_ch[c]);
                put(&mut out, x, y, c, v * a[c] + b[c]);
            }
        }
    }
    Ok((out, placement))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionOptions {
    pub threshold: f32,
    pub box_threshold: f32,
    pub unclip_ratio: f32,
    pub min_side: f32,
    pub max_regions: u32,
}

/// A region in normalised image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// The rotated rectangle's corners, clockwise from the top left.
    pub polygon: Vec<(f32, f32)>,
    /// x, y, w, h.
    pub bounding_box: [f32; 4],
    pub score: f32,
}

/// The regions of a probability map of `w × h` (DBNet's post-processing:
/// threshold, connected components, minimum-area rectangle, unclip).
pub fn probability_regions(
    map: &[f32],
    w: usize,
    h: usize,
    placement: &Placement,
    o: &RegionOptions,
) -> Result<Vec<Region>, String> {
    placement.check()?;
    if map.len() != w * h {
        return Err(format!(
            "probability map of {w}×{h} needs {} values, got {}",
            w * h,
            map.len()
        ));
    }
    let mut label = vec![0u32; w * h];
    let mut regions = Vec::new();
    let mut stack = Vec::new();
    let mut next = 0u32;
    for start in 0..w * h {
        // NaN is never above the threshold.
        let above = map[start] > o.threshold;
        if label[start] != 0 || !above {
            continue;
        }
        next += 1;
        label[start] = next;
        stack.push(start);
        // Per row of the component, its leftmost and rightmost pixel: their
        // hull is the component's hull.
        let mut extremes: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
        let (mut sum, mut count) = (0f64, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            sum += map[i] as f64;
            count += 1;
            let e = extremes.entry(y).or_insert((x, x));
            e.0 = e.0.min(x);
            e.1 = e.1.max(x);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if label[j] == 0 && map[j] > o.threshold {
                        label[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        let score = (sum / count as f64) as f32;
        if score < o.box_threshold {
            continue;
        }
        let mut points: Vec<(f32, f32)> = Vec::with_capacity(extremes.len() * 2);
        for (&y, &(x0, x1)) in &extremes {
            points.push((x0 as f32, y as f32));
            if x1 != x0 {
                points.push((x1 as f32, y as f32));
            }
        }
        let Some(mut rect) = min_area_rect(&points) else {
            continue;
        };
        if rect.w.min(rect.h) < o.min_side {
            continue;
        }
        if o.unclip_ratio > 0.0 {
            let (area, perimeter) = (rect.w * rect.h, 2.0 * (rect.w + rect.h));
            if perimeter > 0.0 {
                let d = area * o.unclip_ratio / perimeter;
                rect.w += 2.0 * d;
                rect.h += 2.0 * d;
            }
        }
        if rect.w.min(rect.h) < o.min_side + 2.0 {
            continue;
        }
        let corners: Vec<(f32, f32)> = rect
            .corners()
            .into_iter()
            .map(|(x, y)| placement.normalise(x, y))
            .collect();
        let (mut x0, mut y0, mut x1, mut y1) = (1f32, 1f32, 0f32, 0f32);
        for &(x, y) in &corners {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        regions.push(Region {
            polygon: corners,
            bounding_box: [x0, y0, x1 - x0, y1 - y0],
            score,
        });
    }
    regions.sort_by(|a, b| b.score.total_cmp(&a.score));
    regions.truncate(o.max_regions as usize);
    Ok(regions)
}

/// A rotated rectangle: centre, sides and the direction of side `w`.
#[derive(Debug, Clone, Copy)]
struct Rect {
    cx: f32,
    cy: f32,
    w: f32,
    h: f32,
    /// Unit vector along `w`.
    ux: f32,
    uy: f32,
}

impl Rect {
    /// Clockwise on screen (y down), starting at the corner nearest the
    /// top left.
    fn corners(&self) -> [(f32, f32); 4] {
        let (hx, hy) = (self.ux * self.w / 2.0, self.uy * self.w / 2.0);
        let (vx, vy) = (-self.uy * self.h / 2.0, self.ux * self.h / 2.0);
        let mut c = [
            (self.cx - hx - vx, self.cy - hy - vy),
            (self.cx + hx - vx, self.cy + hy - vy),
            (self.cx + hx + vx, self.cy + hy + vy),
            (self.cx - hx + vx, self.cy - hy + vy),
        ];
        // Screen-clockwise is increasing angle with y down.
        c.sort_by(|a, b| {
            let aa = (a.1 - self.cy).atan2(a.0 - self.cx);
            let bb = (b.1 - self.cy).atan2(b.0 - self.cx);
            aa.total_cmp(&bb)
        });
        let first = (0..4)
            .min_by(|&i, &j| (c[i].0 + c[i].1).total_cmp(&(c[j].0 + c[j].1)))
            .unwrap_or(0);
        c.rotate_left(first);
        c
    }
}

/// Andrew's monotone chain.
fn convex_hull(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut p: Vec<(f32, f32)> = points.to_vec();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: (f32, f32), a: (f32, f32), b: (f32, f32)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut hull: Vec<(f32, f32)> = Vec::with_capacity(p.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &(f32, f32)>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0
            {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop();
    }
    hull
}

/// The smallest-area rectangle around the points (one of its sides lies on
/// a hull edge). Pixel centres: a one-pixel-wide line has width 0, so one
/// pixel is added to each side, as the pixels' own extent.
fn min_area_rect(points: &[(f32, f32)]) -> Option<Rect> {
    let hull = convex_hull(points);
    if hull.is_empty() {
        return None;
    }
    let mut best: Option<(f32, Rect)> = None;
    let n = hull.len();
    let edges: Vec<(f32, f32)> = if n == 1 {
        vec![(1.0, 0.0)]
    } else {
        (0..n)
            .map(|i| {
                let (a, b) = (hull[i], hull[(i + 1) % n]);
                (b.0 - a.0, b.1 - a.1)
            })
            .collect()
    };
    for (ex, ey) in edges {
        let len = (ex * ex + ey * ey).sqrt();
        if len == 0.0 {
            continue;
        }
        let (ux, uy) = (ex / len, ey / len);
        let (mut u0, mut u1, mut v0, mut v1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for &(x, y) in &hull {
            let u = x * ux + y * uy;
            let v = -x * uy + y * ux;
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
        let (w, h) = (u1 - u0 + 1.0, v1 - v0 + 1.0);
        let area = w * h;
        if best.as_ref().is_none_or(|(a, _)| area < *a) {
            let (cu, cv) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
            let rect = Rect {
                cx: cu * ux - cv * uy,
                cy: cu * uy + cv * ux,
                w,
                h,
                ux,
                uy,
            };
            best = Some((area, rect));
        }
    }
    best.map(|(_, r)| r)
}

/// A mask over the whole image (Encord's bitmask: the image's size, rows
/// top to bottom, its run-length string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMask {
    pub width: u32,
    pub height: u32,
    pub rle: String,
}

/// The pixels of the image whose value in `map` (a `w × h` map over the
/// tensor the placement describes, sampled at each image pixel's centre)
/// is above `threshold`, as an Encord bitmask.
pub fn mask_bitmask(
    map: &[f32],
    w: usize,
    h: usize,
    placement: &Placement,
    threshold: f32,
) -> Result<ImageMask, String> {
    placement.check()?;
    if map.len() != w * h || w == 0 || h == 0 {
        return Err(format!(
            "mask of {w}×{h} needs {} values, got {}",
            w * h,
            map.len()
        ));
    }
    let (iw, ih) = (
        placement.image_width as usize,
        placement.image_height as usize,
    );
    let column = |x: usize| {
        let t = (x as f32 + 0.5) * placement.scale_x + placement.offset_x;
        (t.max(0.0) as usize).min(w - 1)
    };
    let columns: Vec<usize> = (0..iw).map(column).collect();
    // Runs alternate, starting with unset pixels.
    let mut counts: Vec<u64> = Vec::new();
    let (mut current, mut run) = (false, 0u64);
    for y in 0..ih {
        let ty = (((y as f32 + 0.5) * placement.scale_y + placement.offset_y).max(0.0) as usize)
            .min(h - 1);
        let row = &map[ty * w..(ty + 1) * w];
        for &tx in &columns {
            let set = row[tx] > threshold;
            if set == current {
                run += 1;
            } else {
                counts.push(run);
                current = set;
                run = 1;
            }
        }
    }
    counts.push(run);
    Ok(ImageMask {
        width: placement.image_width,
        height: placement.image_height,
        rle: rle_string(&counts),
    })
}

/// Encord's (COCO's) run-length string: each count as 5-bit groups offset
/// by 48, from the third on as the difference to the count two before.
pub fn rle_string(counts: &[u64]) -> String {
    let mut out = String::new();
    for (i, &c) in counts.iter().enumerate() {
        let mut x = c as i64;
        if i > 2 {
            x -= counts[i - 2] as i64;
        }
        loop {
            let mut ch = x & 0x1f;
            x >>= 5;
            let more = if ch & 0x10 != 0 { x != -1 } else { x != 0 };
            if more {
                ch |= 0x20;
            }
            out.push(char::from((ch + 48) as u8));
            if !more {
                break;
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YoloFormat {
    V5,
    V8,
    Yolox,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YoloOptions {
    pub format: YoloFormat,
    pub score_threshold: f32,
    pub iou_threshold: f32,
    pub max_detections: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// x, y, w, h, normalised.
    pub bounding_box: [f32; 4],
    pub score: f32,
    pub class_index: u32,
}

/// Detections from a YOLO output of `dims`, after per-class NMS.
pub fn yolo_detections(
    out: &[f32],
    dims: &[u32],
    placement: &Placement,
    o: &YoloOptions,
) -> Result<Vec<Detection>, String> {
    placement.check()?;
    let d: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let (a, b) = match d.as_slice() {
        [1, a, b] | [a, b] => (*a, *b),
        _ => return Err(format!("a YOLO output is [1, A, B]; got {dims:?}")),
    };
    if a * b != out.len() {
        return Err(format!(
            "output of {dims:?} needs {} values, got {}",
            a * b,
            out.len()
        ));
    }
    // (cx, cy, w, h) in tensor pixels, score, class.
    let mut found: Vec<([f32; 4], f32, u32)> = Vec::new();
    let best_class = |scores: &mut dyn Iterator<Item = f32>| {
        scores
            .enumerate()
            .fold((0u32, f32::MIN), |(bi, bs), (i, s)| {
                if s > bs {
                    (i as u32, s)
                } else {
                    (bi, bs)
                }
            })
    };
    match o.format {
        YoloFormat::V5 | YoloFormat::Yolox => {
            let (n, cols) = (a, b);
            if cols < 6 {
                return Err(format!(
                    "a {:?} output has rows of 5 + classes values; got {cols}",
                    o.format
                ));
            }
            let grid = if o.format == YoloFormat::Yolox {
                Some(yolox_grid(placement, n)?)
            } else {
                None
            };
            for r in 0..n {
                let row = &out[r * cols..(r + 1) * cols];
                let (class, cls) = best_class(&mut row[5..].iter().copied());
                let score = row[4] * cls;
                if score < o.score_threshold {
                    continue;
                }
                let mut bx = [row[0], row[1], row[2], row[3]];
                if let Some(g) = &grid {
                    let (gx, gy, s) = g[r];
                    bx = [
                        (bx[0] + gx) * s,
                        (bx[1] + gy) * s,
                        bx[2].exp() * s,
                        bx[3].exp() * s,
                    ];
                }
                found.push((bx, score, class));
            }
        }
        YoloFormat::V8 => {
            let (rows, n) = (a, b);
            if rows < 5 {
                return Err(format!("a v8 output has 4 + classes rows; got {rows}"));
            }
            for i in 0..n {
                let (class, score) = best_class(&mut (4..rows).map(|r| out[r * n + i]));
                if score < o.score_threshold {
                    continue;
                }
                found.push((
                    [out[i], out[n + i], out[2 * n + i], out[3 * n + i]],
                    score,
                    class,
                ));
            }
        }
    }
    found.sort_by(|x, y| y.1.total_cmp(&x.1));
    let corners = |b: &[f32; 4]| {
        [
            b[0] - b[2] / 2.0,
            b[1] - b[3] / 2.0,
            b[0] + b[2] / 2.0,
            b[1] + b[3] / 2.0,
        ]
    };
    let iou = |p: [f32; 4], q: [f32; 4]| {
        let iw = (p[2].min(q[2]) - p[0].max(q[0])).max(0.0);
        let ih = (p[3].min(q[3]) - p[1].max(q[1])).max(0.0);
        let inter = iw * ih;
        let union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    };
    let mut kept: Vec<([f32; 4], f32, u32)> = Vec::new();
    for (bx, score, class) in found {
        if kept.len() >= o.max_detections as usize {
            break;
        }
        let c = corners(&bx);
        if kept
            .iter()
            .any(|(k, _, kc)| *kc == class && iou(*k, c) > o.iou_threshold)
        {
            continue;
        }
        kept.push((c, score, class));
    }
    Ok(kept
        .into_iter()
        .map(|(c, score, class_index)| {
            let (x0, y0) = placement.normalise(c[0], c[1]);
            let (x1, y1) = placement.normalise(c[2], c[3]);
            Detection {
                bounding_box: [x0, y0, x1 - x0, y1 - y0],
                score,
                class_index,
            }
        })
        .collect())
}

/// YOLOX's anchor grid: per output row, the cell and its stride.
fn yolox_grid(p: &Placement, rows: usize) -> Result<Vec<(f32, f32, f32)>, String> {
    let mut g = Vec::with_capacity(rows);
    for s in [8u32, 16, 32] {
        let (gw, gh) = (p.tensor_width / s, p.tensor_height / s);
        for y in 0..gh {
            for x in 0..gw {
                g.push((x as f32, y as f32, s as f32));
            }
        }
    }
    if g.len() != rows {
        return Err(format!(
            "a YOLOX output for a {}×{} input has {} rows (strides 8, 16, 32); got {rows}",
            p.tensor_width,
            p.tensor_height,
            g.len()
        ));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(w: u32, h: u32, resize: Resize) -> TensorOptions {
        TensorOptions {
            width: w,
            height: h,
            resize,
            layout: Layout::Nchw,
            bgr: false,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad: 0.5,
        }
    }

    #[test]
    fn a_same_size_frame_is_normalised_per_channel_in_chw() {
        // 2×1 image: red, then blue.
        let rgb = [255, 0, 0, 0, 0, 255];
        let mut o = opts(2, 1, Resize::Stretch);
        o.mean = [0.5; 3];
        o.std = [0.5; 3];
        let (t, p) = frame_tensor(2, 1, &rgb, &o).unwrap();
        assert_eq!(t, vec![1.0, -1.0, -1.0, -1.0, -1.0, 1.0]);
        assert_eq!((p.scale_x, p.offset_x), (1.0, 0.0));
        // HWC and BGR reorder.
        o.layout = Layout::Nhwc;
        o.bgr = true;
        let (t, _) = frame_tensor(2, 1, &rgb, &o).unwrap();
        assert_eq!(t, vec![-1.0, -1.0, 1.0, 1.0, -1.0, -1.0]);
    }

    #[test]
    fn letterbox_centres_the_image_and_pads_the_rest() {
        // 4×2 white image into 4×4: rows 1 and 2 are the image.
        let rgb = vec![255u8; 4 * 2 * 3];
        let (t, p) = frame_tensor(4, 2, &rgb, &opts(4, 4, Resize::Letterbox)).unwrap();
        assert_eq!((p.offset_x, p.offset_y, p.scale_x), (0.0, 1.0, 1.0));
        let row = |y: usize| &t[y * 4..y * 4 + 4];
        assert_eq!(row(0), [0.5; 4]);
        assert_eq!(row(1), [1.0; 4]);
        assert_eq!(row(2), [1.0; 4]);
        assert_eq!(row(3), [0.5; 4]);
        // The tensor's centre maps back to the image's centre.
        assert_eq!(p.normalise(2.0, 2.0), (0.5, 0.5));
    }

    #[test]
    fn downscaling_averages_neighbours() {
        // 4×1: 0, 100, 200, 255 → 2×1 samples between pixels.
        let rgb: Vec<u8> = [0u8, 100, 200, 255]
            .iter()
            .flat_map(|&v| [v, v, v])
            .collect();
        let mut o = opts(2, 1, Resize::Stretch);
        o.std = [1.0 / 255.0; 3];
        let (t, _) = frame_tensor(4, 1, &rgb, &o).unwrap();
        assert!(
            (t[0] - 50.0).abs() < 1e-3 && (t[1] - 227.5).abs() < 1e-3,
            "{t:?}"
        );
    }

    #[test]
    fn bad_frames_and_sizes_are_named() {
        assert!(frame_tensor(2, 2, &[0; 5], &opts(2, 2, Resize::Stretch))
            .unwrap_err()
            .contains("needs 12 RGB bytes"));
        assert!(
            frame_tensor(1, 1, &[0; 3], &opts(100_000, 2, Resize::Stretch))
                .unwrap_err()
                .contains("each side")
        );
        let mut o = opts(1, 1, Resize::Stretch);
        o.std = [0.0; 3];
        assert!(frame_tensor(1, 1, &[0; 3], &o).is_err());
    }

    fn identity(w: u32, h: u32) -> Placement {
        Placement {
            image_width: w,
            image_height: h,
            tensor_width: w,
            tensor_height: h,
            scale_x: 1.0,
            scale_y: 1.0,
            offset_x: 0.0,
            offset_y: 0.0,
        }
    }

    fn region_opts(unclip: f32) -> RegionOptions {
        RegionOptions {
            threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: unclip,
            min_side: 1.0,
            max_regions: 100,
        }
    }

    #[test]
    fn each_blob_of_a_probability_map_is_one_rectangle() {
        let (w, h) = (100usize, 50usize);
        let mut map = vec![0f32; w * h];
        // Pixels x 10..=39, y 5..=14 and x 60..=89, y 30..=39.
        for y in 5..=14 {
            for x in 10..=39 {
                map[y * w + x] = 0.9;
            }
        }
        for y in 30..=39 {
            for x in 60..=89 {
                map[y * w + x] = 0.8;
            }
        }
        let r = probability_regions(&map, w, h, &identity(100, 50), &region_opts(0.0)).unwrap();
        assert_eq!(r.len(), 2);
        assert!((r[0].score - 0.9).abs() < 1e-6);
        let [x, y, bw, bh] = r[0].bounding_box;
        // Pixel centres 10..39 plus half a pixel each side: 9.5..39.5.
        assert!(
            (x - 0.095).abs() < 1e-4 && (y - 0.09).abs() < 1e-4,
            "{:?}",
            r[0]
        );
        assert!(
            (bw - 0.30).abs() < 1e-4 && (bh - 0.20).abs() < 1e-4,
            "{:?}",
            r[0]
        );
        assert_eq!(r[0].polygon.len(), 4);
        let near =
            |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).abs() < 1e-5 && (a.1 - b.1).abs() < 1e-5;
        assert!(near(r[0].polygon[0], (x, y)), "{:?}", r[0].polygon);
        assert!(near(r[0].polygon[1], (x + bw, y)), "{:?}", r[0].polygon);
        assert!(
            near(r[0].polygon[2], (x + bw, y + bh)),
            "{:?}",
            r[0].polygon
        );
        // Unclip grows each side by area * ratio / perimeter.
        let r = probability_regions(&map, w, h, &identity(100, 50), &region_opts(1.5)).unwrap();
        let d = 30.0 * 10.0 * 1.5 / 80.0;
        assert!(
            (r[0].bounding_box[2] * 100.0 - (30.0 + 2.0 * d)).abs() < 1e-3,
            "{:?}",
            r[0]
        );
    }

    #[test]
    fn a_rotated_blob_gives_a_rotated_rectangle() {
        let (w, h) = (60usize, 60usize);
        let mut map = vec![0f32; w * h];
        // A diagonal band, 4 pixels thick.
        for i in 10..50 {
            for t in 0..4 {
                map[(i + t) * w + i] = 1.0;
            }
        }
        let r = probability_regions(&map, w, h, &identity(60, 60), &region_opts(0.0)).unwrap();
        assert_eq!(r.len(), 1);
        let p = &r[0].polygon;
        let side = |a: (f32, f32), b: (f32, f32)| {
            ((a.0 - b.0).powi(2) * 3600.0 + (a.1 - b.1).powi(2) * 3600.0).sqrt()
        };
        let (s1, s2) = (side(p[0], p[1]), side(p[1], p[2]));
        let (long, short) = (s1.max(s2), s1.min(s2));
        assert!(long > 50.0 && short < 6.0, "{p:?} {long} {short}");
    }

    #[test]
    fn faint_and_tiny_blobs_are_dropped() {
        let (w, h) = (20usize, 20usize);
        let mut map = vec![0f32; w * h];
        map[5 * w + 5] = 0.9; // one pixel: too small
        for y in 10..15 {
            for x in 10..15 {
                map[y * w + x] = 0.4; // above threshold, below box threshold
            }
        }
        let r = probability_regions(&map, w, h, &identity(20, 20), &region_opts(0.0)).unwrap();
        assert!(r.is_empty(), "{r:?}");
        assert!(probability_regions(&map, 3, 3, &identity(20, 20), &region_opts(0.0)).is_err());
    }

    #[test]
    fn run_lengths_are_encords_string() {
        // Vectors from the Encord SDK's own `_mask_to_rle` / `_rle_to_string`.
        assert_eq!(rle_string(&[2, 2, 1, 3, 3, 1]), "22112N");
        assert_eq!(rle_string(&[0, 5, 100, 40, 3]), "05T3S1oL");
    }

    #[test]
    fn a_mask_is_sampled_per_image_pixel_through_the_placement() {
        // A 4×3 map over a 4×3 image: the Encord SDK's vector above.
        let map = [0., 0., 1., 1., 0., 1., 1., 1., 0., 0., 0., 1.];
        let m = mask_bitmask(&map, 4, 3, &identity(4, 3), 0.5).unwrap();
        assert_eq!((m.width, m.height, m.rle.as_str()), (4, 3, "22112N"));
        // The same map letterboxed into 8×8 at scale 2 (offset 0, 1): an
        // 4×3 image still reads the same pixels.
        let mut big = vec![0f32; 64];
        for y in 0..3 {
            for x in 0..4 {
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    big[(1 + 2 * y + dy) * 8 + 2 * x + dx] = map[y * 4 + x];
                }
            }
        }
        let p = Placement {
            tensor_width: 8,
            tensor_height: 8,
            scale_x: 2.0,
            scale_y: 2.0,
            offset_y: 1.0,
            ..identity(4, 3)
        };
        assert_eq!(mask_bitmask(&big, 8, 8, &p, 0.5).unwrap().rle, "22112N");
        assert!(mask_bitmask(&map, 5, 3, &p, 0.5).is_err());
    }

    #[test]
    fn yolo_v5_and_v8_boxes_survive_nms_per_class() {
        let p = identity(100, 100);
        let o = |format| YoloOptions {
            format,
            score_threshold: 0.25,
            iou_threshold: 0.5,
            max_detections: 10,
        };
        // v5 rows: cx, cy, w, h, obj, c0, c1.
        let rows = [
            [50.0, 50.0, 20.0, 20.0, 0.9, 0.9, 0.1], // kept
            [51.0, 50.0, 20.0, 20.0, 0.8, 0.9, 0.1], // overlaps, same class: dropped
            [51.0, 50.0, 20.0, 20.0, 0.8, 0.1, 0.9], // other class: kept
            [10.0, 10.0, 4.0, 4.0, 0.1, 0.9, 0.0],   // low score
        ];
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let d = yolo_detections(&flat, &[1, 4, 7], &p, &o(YoloFormat::V5)).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].class_index, d[1].class_index), (0, 1));
        assert!((d[0].score - 0.81).abs() < 1e-6);
        let b = d[0].bounding_box;
        assert!(
            b.iter()
                .zip([0.4, 0.4, 0.2, 0.2])
                .all(|(a, e)| (a - e).abs() < 1e-6),
            "{b:?}"
        );
        // v8: the same boxes transposed, no objectness.
        let cols: Vec<[f32; 6]> = rows
            .iter()
            .map(|r| [r[0], r[1], r[2], r[3], r[5] * r[4], r[6] * r[4]])
            .collect();
        let t: Vec<f32> = (0..6)
            .flat_map(|k| cols.iter().map(move |c| c[k]))
            .collect();
        let d8 = yolo_detections(&t, &[1, 6, 4], &p, &o(YoloFormat::V8)).unwrap();
        assert_eq!(d8.len(), 2);
        assert_eq!(d8[0].bounding_box, d[0].bounding_box);
        assert!(yolo_detections(&t, &[1, 6], &p, &o(YoloFormat::V8)).is_err());
    }

    #[test]
    fn yolox_decodes_its_grid() {
        let p = identity(32, 32);
        // Grids: 4×4 (stride 8), 2×2 (16), 1×1 (32) = 21 rows of 6.
        let mut out = vec![0f32; 21 * 6];
        // Row 5 is stride 8, cell (1, 1): centre (1.5 + 1) * 8 = 20.
        let r = 5;
        out[r * 6..r * 6 + 6].copy_from_slice(&[1.5, 1.5, 0.0, 0.0, 1.0, 1.0]);
        let o = YoloOptions {
            format: YoloFormat::Yolox,
            score_threshold: 0.5,
            iou_threshold: 0.5,
            max_detections: 10,
        };
        let d = yolo_detections(&out, &[1, 21, 6], &p, &o).unwrap();
        assert_eq!(d.len(), 1);
        // w = exp(0) * 8 = 8 → box 16..24 of 32.
        assert_eq!(d[0].bounding_box, [0.5, 0.5, 0.25, 0.25]);
        assert!(yolo_detections(&out[..20 * 6], &[1, 20, 6], &p, &o)
            .unwrap_err()
            .contains("21 rows"));
    }
}
