//! Object geometry, normalised to 0..1 of the image's width and height, and
//! its mapping onto the label row's geometry keys.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A point, normalised to 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// An axis-aligned box: `x`, `y` is the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A box rotated by `theta` degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RotatableBoundingBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub theta: f64,
}

/// A run-length-encoded mask placed at `top`, `left` (pixels).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bitmask {
    pub top: u32,
    pub left: u32,
    pub width: u32,
    pub height: u32,
    #[serde(rename = "rleString")]
    pub rle: String,
}

/// The geometry of one object on one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    BoundingBox(BoundingBox),
    RotatableBoundingBox(RotatableBoundingBox),
    Polygon(Vec<Point>),
    Polyline(Vec<Point>),
    Point(Point),
    Bitmask(Bitmask),
}

impl Shape {
    /// The ontology's name for this shape.
    pub fn kind(&self) -> &'static str {
        match self {
            Shape::BoundingBox(_) => "bounding_box",
            Shape::RotatableBoundingBox(_) => "rotatable_bounding_box",
            Shape::Polygon(_) => "polygon",
            Shape::Polyline(_) => "polyline",
            Shape::Point(_) => "point",
            Shape::Bitmask(_) => "bitmask",
        }
    }

    /// The smallest axis-aligned box holding this geometry on an image of
    /// `width` x `height` pixels (a rotated box's rotation is in pixels, so
    /// the image's size matters), clamped to the image: what to crop to show
    /// a model the object (for a bitmask, its placement). `None` for a point
    /// or a line of no area.
    pub fn bounds(&self, width: u32, height: u32) -> Option<BoundingBox> {
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let from_points = |pts: &mut dyn Iterator<Item = (f64, f64)>| {
            let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
            for (x, y) in pts {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            let (x0, y0) = (x0.clamp(0.0, 1.0), y0.clamp(0.0, 1.0));
            let (x1, y1) = (x1.clamp(0.0, 1.0), y1.clamp(0.0, 1.0));
            (x1 > x0 && y1 > y0).then_some(BoundingBox {
                x: x0,
                y: y0,
                w: x1 - x0,
                h: y1 - y0,
            })
        };
        match self {
            Shape::BoundingBox(b) => {
                from_points(&mut [(b.x, b.y), (b.x + b.w, b.y + b.h)].into_iter())
            }
            Shape::RotatableBoundingBox(b) => {
                // Rotated about its centre, in pixels.
                let (cx, cy) = ((b.x + b.w / 2.0) * w, (b.y + b.h / 2.0) * h);
                let (hw, hh) = (b.w * w / 2.0, b.h * h / 2.0);
                let (sin, cos) = b.theta.to_radians().sin_cos();
                from_points(
                    &mut [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
                        .into_iter()
                        .map(|(dx, dy)| {
                            (
                                (cx + dx * cos - dy * sin) / w,
                                (cy + dx * sin + dy * cos) / h,
                            )
                        }),
                )
            }
            Shape::Polygon(pts) | Shape::Polyline(pts) => {
                from_points(&mut pts.iter().map(|p| (p.x, p.y)))
            }
            Shape::Point(_) => None,
            Shape::Bitmask(m) => from_points(
                &mut [
                    (f64::from(m.left) / w, f64::from(m.top) / h),
                    (
                        f64::from(m.left + m.width) / w,
                        f64::from(m.top + m.height) / h,
                    ),
                ]
                .into_iter(),
            ),
        }
    }

    /// Reads the geometry of `shape` from a frame object's keys. `None` when
    /// the shape is not one of the six modelled here or its key is missing or
    /// malformed.
    pub fn from_keys(shape: &str, keys: &Map<String, Value>) -> Option<Shape> {
        let get = |k: &str| keys.get(k).cloned();
        Some(match shape {
            "bounding_box" => Shape::BoundingBox(serde_json::from_value(get("boundingBox")?).ok()?),
            "rotatable_bounding_box" => Shape::RotatableBoundingBox(
                serde_json::from_value(get("rotatableBoundingBox")?).ok()?,
            ),
            "polygon" => Shape::Polygon(points(keys.get("polygon")?)?),
            "polyline" => Shape::Polyline(points(keys.get("polyline")?)?),
            "point" => Shape::Point(*points(keys.get("point")?)?.first()?),
            "bitmask" => Shape::Bitmask(serde_json::from_value(get("bitmask")?).ok()?),
            _ => return None,
        })
    }

    /// Writes this geometry's keys, as the Encord SDK writes them.
    pub fn to_keys(&self, keys: &mut Map<String, Value>) {
        match self {
            Shape::BoundingBox(b) => {
                keys.insert(
                    "boundingBox".into(),
                    json!({"h": b.h, "w": b.w, "x": b.x, "y": b.y}),
                );
            }
            Shape::RotatableBoundingBox(b) => {
                keys.insert(
                    "rotatableBoundingBox".into(),
                    json!({"h": b.h, "w": b.w, "x": b.x, "y": b.y, "theta": b.theta}),
                );
            }
            Shape::Polygon(pts) => {
                keys.insert("polygon".into(), point_map(pts));
                let flat: Vec<f64> = pts.iter().flat_map(|p| [p.x, p.y]).collect();
                keys.insert("polygons".into(), json!([[flat]]));
            }
            Shape::Polyline(pts) => {
                keys.insert("polyline".into(), point_map(pts));
            }
            Shape::Point(p) => {
                keys.insert("point".into(), point_map(std::slice::from_ref(p)));
            }
            Shape::Bitmask(m) => {
                keys.insert(
                    "bitmask".into(),
                    serde_json::to_value(m).expect("a bitmask always serialises"),
                );
            }
        }
    }

    /// The normalised coordinates of this shape (empty for a bitmask, whose
    /// coordinates are pixels).
    pub fn normalised_coordinates(&self) -> Vec<f64> {
        match self {
            Shape::BoundingBox(b) => vec![b.x, b.y, b.w, b.h, b.x + b.w, b.y + b.h],
            Shape::RotatableBoundingBox(b) => vec![b.x, b.y, b.w, b.h],
            Shape::Polygon(p) | Shape::Polyline(p) => p.iter().flat_map(|p| [p.x, p.y]).collect(),
            Shape::Point(p) => vec![p.x, p.y],
            Shape::Bitmask(_) => vec![],
        }
    }
}

/// `{"0": {"x","y"}, "1": {...}}` → points in index order.
fn points(v: &Value) -> Option<Vec<Point>> {
    let map = v.as_object()?;
    let mut indexed: Vec<(u32, Point)> = map
        .iter()
        .map(|(k, p)| Some((k.parse().ok()?, serde_json::from_value(p.clone()).ok()?)))
        .collect::<Option<_>>()?;
    indexed.sort_by_key(|(i, _)| *i);
    Some(indexed.into_iter().map(|(_, p)| p).collect())
}

fn point_map(pts: &[Point]) -> Value {
    let map: Map<String, Value> = pts
        .iter()
        .enumerate()
        .map(|(i, p)| (i.to_string(), json!({"x": p.x, "y": p.y})))
        .collect();
    Value::Object(map)
}
