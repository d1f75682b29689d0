//! The demo's text images (`local demo --with-text`): lines of block
//! capitals drawn at known places, so that a text detector's regions can be
//! checked against where the text really is.

/// One drawn line: top-left corner in pixels, pixels per font dot, text.
#[derive(Debug, Clone, Copy)]
pub struct TextLine {
    pub x: u32,
    pub y: u32,
    pub scale: u32,
    pub text: &'static str,
}

impl TextLine {
    /// The line's ink box in pixels: x, y, width, height.
    pub fn pixel_box(&self) -> [u32; 4] {
        let chars = self.text.chars().count() as u32;
        [self.x, self.y, (chars * 6 - 1) * self.scale, 7 * self.scale]
    }
}

pub const TEXT_WIDTH: u32 = 640;
pub const TEXT_HEIGHT: u32 = 480;

const fn line(x: u32, y: u32, scale: u32, text: &'static str) -> TextLine {
    TextLine { x, y, scale, text }
}

/// The text images: title and lines.
pub const TEXT_IMAGES: &[(&str, &[TextLine])] = &[
    (
        "text-01.png",
        &[
            line(40, 40, 4, "ENCORD AGENT 42"),
            line(60, 160, 3, "TEXT REGION"),
            line(300, 300, 5, "HELLO"),
            line(80, 400, 3, "WORLD 24"),
        ],
    ),
    ("text-02.png", &[line(120, 200, 4, "LABEL THE DATA")]),
    (
        "text-03.png",
        &[
            line(30, 60, 3, "ROAD 4"),
            line(360, 60, 3, "GATE 2"),
            line(200, 380, 4, "NO ENTRY"),
        ],
    ),
];

/// 5 × 7 glyphs, '#' ink.
fn glyph(c: char) -> [&'static str; 7] {
    match c {
        'A' => [
            ".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#",
        ],
        'B' => [
            "####.", "#...#", "#...#", "####.", "#...#", "#...#", "####.",
        ],
        'C' => [
            ".###.", "#...#", "#....", "#....", "#....", "#...#", ".###.",
        ],
        'D' => [
            "####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####.",
        ],
        'E' => [
            "#####", "#....", "#....", "####.", "#....", "#....", "#####",
        ],
        'G' => [
            ".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".###.",
        ],
        'H' => [
            "#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#",
        ],
        'I' => [
            ".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###.",
        ],
        'L' => [
            "#....", "#....", "#....", "#....", "#....", "#....", "#####",
        ],
        'N' => [
            "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#",
        ],
        'O' => [
            ".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###.",
        ],
        'R' => [
            "####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#",
        ],
        'T' => [
            "#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..",
        ],
        'W' => [
            "#...#", "#...#", "#...#", "#.#.#", "#.#.#", "##.##", "#...#",
        ],
        'X' => [
            "#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#",
        ],
        'Y' => [
            "#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#..",
        ],
        '2' => [
            ".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####",
        ],
        '4' => [
            "...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#.",
        ],
        _ => ["....."; 7],
    }
}

/// The image's RGB8 pixels: dark text on a light background.
pub fn render(lines: &[TextLine]) -> Vec<u8> {
    let (w, h) = (TEXT_WIDTH as usize, TEXT_HEIGHT as usize);
    let mut px = vec![245u8; w * h * 3];
    for l in lines {
        for (i, c) in l.text.chars().enumerate() {
            let left = l.x as usize + i * 6 * l.scale as usize;
            for (r, row) in glyph(c).iter().enumerate() {
                for (k, dot) in row.bytes().enumerate() {
                    if dot != b'#' {
                        continue;
                    }
                    let s = l.scale as usize;
                    for y in l.y as usize + r * s..l.y as usize + (r + 1) * s {
                        for x in left + k * s..left + (k + 1) * s {
                            if x < w && y < h {
                                px[(y * w + x) * 3..(y * w + x) * 3 + 3]
                                    .copy_from_slice(&[20, 20, 20]);
                            }
                        }
                    }
                }
            }
        }
    }
    px
}

/// The lines' boxes in Encord's normalised coordinates (x, y, w, h): the
/// client metadata `text_lines` of each text image.
pub fn normalised_boxes(lines: &[TextLine]) -> Vec<[f64; 4]> {
    lines
        .iter()
        .map(|l| {
            let [x, y, w, h] = l.pixel_box();
            [
                x as f64 / TEXT_WIDTH as f64,
                y as f64 / TEXT_HEIGHT as f64,
                w as f64 / TEXT_WIDTH as f64,
                h as f64 / TEXT_HEIGHT as f64,
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_fits_its_image_and_ink_lies_in_its_box() {
        for (_, lines) in TEXT_IMAGES {
            let px = render(lines);
            for l in *lines {
                let [x, y, w, h] = l.pixel_box();
                assert!(x + w <= TEXT_WIDTH && y + h <= TEXT_HEIGHT, "{l:?}");
                assert!(
                    l.text.chars().all(|c| c == ' ' || glyph(c) != ["....."; 7]),
                    "{l:?}"
                );
                // The box's top-left dot row holds ink somewhere.
                let row = &px[(y * TEXT_WIDTH) as usize * 3..((y + 1) * TEXT_WIDTH) as usize * 3];
                assert!(
                    row[x as usize * 3..(x + w) as usize * 3].contains(&20),
                    "{l:?}"
                );
            }
        }
    }
}
