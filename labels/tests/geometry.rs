//! `Shape::bounds`: the box to crop to show a model an object.

use encord_labels::{BoundingBox, Point, RotatableBoundingBox, Shape};

fn close(a: BoundingBox, b: BoundingBox) -> bool {
    [(a.x, b.x), (a.y, b.y), (a.w, b.w), (a.h, b.h)]
        .iter()
        .all(|(p, q)| (p - q).abs() < 1e-9)
}

#[test]
fn a_box_is_its_own_bounds_clamped_to_the_image() {
    let b = BoundingBox {
        x: 0.1,
        y: 0.2,
        w: 0.3,
        h: 0.4,
    };
    assert!(close(Shape::BoundingBox(b).bounds(640, 480).unwrap(), b));
    let over = Shape::BoundingBox(BoundingBox {
        x: 0.8,
        y: -0.1,
        w: 0.4,
        h: 0.3,
    });
    assert!(close(
        over.bounds(640, 480).unwrap(),
        BoundingBox {
            x: 0.8,
            y: 0.0,
            w: 0.2,
            h: 0.2
        }
    ));
}

#[test]
fn a_rotated_box_is_rotated_in_pixels() {
    // 0.2 x 0.2 of a 200 x 100 image is 40 x 20 pixels; turned 90 degrees
    // about its centre (80, 30) it is 20 x 40 pixels: 0.1 x 0.4.
    let r = RotatableBoundingBox {
        x: 0.3,
        y: 0.2,
        w: 0.2,
        h: 0.2,
        theta: 90.0,
    };
    let b = Shape::RotatableBoundingBox(r).bounds(200, 100).unwrap();
    assert!(
        close(
            b,
            BoundingBox {
                x: 0.35,
                y: 0.1,
                w: 0.1,
                h: 0.4
            }
        ),
        "{b:?}"
    );
    // Unturned, it is the box itself.
    let flat = Shape::RotatableBoundingBox(RotatableBoundingBox { theta: 0.0, ..r });
    assert!(close(
        flat.bounds(200, 100).unwrap(),
        BoundingBox {
            x: 0.3,
            y: 0.2,
            w: 0.2,
            h: 0.2
        }
    ));
    // At 45 degrees a square of 20 x 20 pixels spans 20 * sqrt(2).
    let square = RotatableBoundingBox {
        x: 0.45,
        y: 0.45,
        w: 0.1,
        h: 0.1,
        theta: 45.0,
    };
    let b = Shape::RotatableBoundingBox(square)
        .bounds(200, 200)
        .unwrap();
    assert!((b.w - 0.1 * 2f64.sqrt()).abs() < 1e-9, "{b:?}");
}

#[test]
fn a_polygon_is_bounded_by_its_points_and_a_point_has_none() {
    let p = |x, y| Point { x, y };
    let poly = Shape::Polygon(vec![p(0.2, 0.5), p(0.6, 0.1), p(0.4, 0.9)]);
    assert!(close(
        poly.bounds(10, 10).unwrap(),
        BoundingBox {
            x: 0.2,
            y: 0.1,
            w: 0.4,
            h: 0.8
        }
    ));
    assert_eq!(Shape::Point(p(0.5, 0.5)).bounds(10, 10), None);
    assert_eq!(
        Shape::Polyline(vec![p(0.1, 0.5), p(0.9, 0.5)]).bounds(10, 10),
        None
    );
}
