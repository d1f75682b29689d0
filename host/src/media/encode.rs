//! Frames as image files for model APIs (`vision.encode-image`): a crop of
//! the frame (with padding), scaled down to a longest side, as PNG or JPEG.

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncodeOptions {
    pub format: ImageFormat,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
    /// x, y, w, h normalised: only this part of the frame.
    pub crop: Option<[f32; 4]>,
    /// Grows the crop by this fraction of its size on each side.
    pub padding: f32,
    /// The longer side at most this many pixels (aspect kept).
    pub max_side: Option<u32>,
}

/// The pixels of `crop` (normalised, padded by `padding` of its size each
/// side), clamped to the frame: x0, y0, x1, y1 in whole pixels.
fn crop_rect(width: u32, height: u32, crop: [f32; 4], padding: f32) -> Result<[u32; 4], String> {
    let [x, y, w, h] = crop;
    if ![x, y, w, h, padding].iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 || padding < 0.0
    {
        return Err(format!(
            "crop {crop:?} with padding {padding}: a box of positive size and a padding of 0 or more"
        ));
    }
    let (px, py) = (w * padding, h * padding);
    let x0 = ((x - px) * width as f32).floor().clamp(0.0, width as f32) as u32;
    let y0 = ((y - py) * height as f32).floor().clamp(0.0, height as f32) as u32;
    let x1 = ((x + w + px) * width as f32)
        .ceil()
        .clamp(0.0, width as f32) as u32;
    let y1 = ((y + h + py) * height as f32)
        .ceil()
        .clamp(0.0, height as f32) as u32;
    if x1 <= x0 || y1 <= y0 {
        return Err(format!("crop {crop:?} lies outside the frame"));
    }
    Ok([x0, y0, x1, y1])
}

/// Bilinear sampling along one axis with pixel centres aligned (OpenCV's
/// INTER_LINEAR): for each of `n_out` output pixels, the two input pixels it
/// lies between and the weight of the second.
pub(crate) fn bilinear_axis(n_out: usize, n_in: usize) -> Vec<(usize, usize, f32)> {
    let s = n_in as f32 / n_out as f32;
    (0..n_out)
        .map(|i| {
            let v = ((i as f32 + 0.5) * s - 0.5).max(0.0);
            let i0 = (v.floor() as usize).min(n_in - 1);
            (i0, (i0 + 1).min(n_in - 1), v - i0 as f32)
        })
        .collect()
}

/// Channel `c` of RGB8 pixels (`row` bytes a row) at a bilinear sample.
#[inline]
pub(crate) fn bilinear_rgb(
    rgb: &[u8],
    row: usize,
    (x0, x1, fx): (usize, usize, f32),
    (y0, y1, fy): (usize, usize, f32),
    c: usize,
) -> f32 {
    let p = |x: usize, y: usize| rgb[y * row + x * 3 + c] as f32;
    let top = p(x0, y0) + (p(x1, y0) - p(x0, y0)) * fx;
    let bottom = p(x0, y1) + (p(x1, y1) - p(x0, y1)) * fx;
    top + (bottom - top) * fy
}

/// Bilinear scaling of RGB8 pixels.
fn scale(rgb: &[u8], w: u32, h: u32, nw: u32, nh: u32) -> Vec<u8> {
    let (w, h, nw, nh) = (w as usize, h as usize, nw as usize, nh as usize);
    let mut out = vec![0u8; nw * nh * 3];
    let (xs, ys) = (bilinear_axis(nw, w), bilinear_axis(nh, h));
    for (oy, &y) in ys.iter().enumerate() {
        for (ox, &x) in xs.iter().enumerate() {
            for c in 0..3 {
                out[(oy * nw + ox) * 3 + c] = bilinear_rgb(rgb, w * 3, x, y, c).round() as u8;
            }
        }
    }
    out
}

/// The frame (RGB8, `width × height`) as an image file. Returns the bytes
/// and the encoded image's width and height.
pub fn encode_image(
    width: u32,
    height: u32,
    rgb: &[u8],
    o: &EncodeOptions,
) -> Result<(Vec<u8>, u32, u32), String> {
    if width == 0 || height == 0 || rgb.len() != width as usize * height as usize * 3 {
        return Err(format!(
            "frame of {width}×{height} needs {} RGB bytes, got {}",
            width as usize * height as usize * 3,
            rgb.len()
        ));
    }
    let (mut pixels, mut w, mut h) = match o.crop {
        None => (rgb.to_vec(), width, height),
        Some(c) => {
            let [x0, y0, x1, y1] = crop_rect(width, height, c, o.padding)?;
            let mut p = Vec::with_capacity(((x1 - x0) * (y1 - y0) * 3) as usize);
            for y in y0..y1 {
                let row = (y * width) as usize * 3;
                p.extend_from_slice(&rgb[row + x0 as usize * 3..row + x1 as usize * 3]);
            }
            (p, x1 - x0, y1 - y0)
        }
    };
    if let Some(m) = o.max_side {
        if m == 0 {
            return Err("max-side must be at least 1".into());
        }
        if w.max(h) > m {
            let s = m as f32 / w.max(h) as f32;
            let (nw, nh) = (
                ((w as f32 * s).round() as u32).max(1),
                ((h as f32 * s).round() as u32).max(1),
            );
            pixels = scale(&pixels, w, h, nw, nh);
            (w, h) = (nw, nh);
        }
    }
    let mut out = Vec::new();
    match o.format {
        ImageFormat::Png => {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().map_err(|e| e.to_string())?;
            writer
                .write_image_data(&pixels)
                .map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
        }
        ImageFormat::Jpeg => {
            if !(1..=100).contains(&o.quality) {
                return Err(format!("JPEG quality {}: 1 to 100", o.quality));
            }
            let (jw, jh) = (u16::try_from(w), u16::try_from(h));
            let (Ok(jw), Ok(jh)) = (jw, jh) else {
                return Err(format!(
                    "{w}×{h} is too large for JPEG (65535 per side): set max-side"
                ));
            };
            jpeg_encoder::Encoder::new(&mut out, o.quality)
                .encode(&pixels, jw, jh, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok((out, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(format: ImageFormat) -> EncodeOptions {
        EncodeOptions {
            format,
            quality: 90,
            crop: None,
            padding: 0.0,
            max_side: None,
        }
    }

    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// 8×4: left half red, right half blue.
    fn frame() -> Vec<u8> {
        (0..4)
            .flat_map(|_| (0..8).flat_map(|x| if x < 4 { [255, 0, 0] } else { [0, 0, 255] }))
            .collect()
    }

    #[test]
    fn a_png_decodes_to_the_same_pixels_and_a_crop_to_its_part() {
        let (png, w, h) = encode_image(8, 4, &frame(), &options(ImageFormat::Png)).unwrap();
        assert_eq!((w, h), (8, 4));
        let (dw, dh, pixels) = decode_png(&png);
        assert_eq!((dw, dh, pixels), (8, 4, frame()));
        // The right half, padded 0 (x 0.5..1.0).
        let mut o = options(ImageFormat::Png);
        o.crop = Some([0.5, 0.0, 0.5, 1.0]);
        let (png, w, h) = encode_image(8, 4, &frame(), &o).unwrap();
        assert_eq!((w, h), (4, 4));
        let (_, _, pixels) = decode_png(&png);
        assert!(pixels.chunks(3).all(|p| p == [0, 0, 255]));
        // Padding grows the crop, clamped to the frame.
        o.crop = Some([0.5, 0.25, 0.25, 0.5]);
        o.padding = 0.5;
        let (_, w, h) = encode_image(8, 4, &frame(), &o).unwrap();
        assert_eq!((w, h), (4, 4));
    }

    #[test]
    fn jpeg_and_a_longest_side() {
        let mut o = options(ImageFormat::Jpeg);
        o.max_side = Some(4);
        let (jpeg, w, h) = encode_image(8, 4, &frame(), &o).unwrap();
        assert_eq!((w, h), (4, 2));
        assert_eq!(&jpeg[..2], &[0xff, 0xd8], "a JPEG starts with SOI");
        o.quality = 0;
        assert!(encode_image(8, 4, &frame(), &o).is_err());
    }

    #[test]
    fn bad_crops_and_frames_are_named() {
        let mut o = options(ImageFormat::Png);
        o.crop = Some([2.0, 2.0, 0.1, 0.1]);
        assert!(encode_image(8, 4, &frame(), &o)
            .unwrap_err()
            .contains("outside the frame"));
        o.crop = Some([0.0, 0.0, -1.0, 0.1]);
        assert!(encode_image(8, 4, &frame(), &o).is_err());
        assert!(encode_image(8, 4, &[0; 5], &options(ImageFormat::Png))
            .unwrap_err()
            .contains("RGB bytes"));
    }
}
