//! QR codes as PNG images: the `qrcode` crate computes the symbol, the `png` crate
//! encodes it (8 pixels per module, the standard 4-module quiet zone).

const SCALE: usize = 8;
const QUIET: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("cannot encode as a QR code: {0}")]
    Encode(#[from] qrcode::types::QrError),
    #[error("cannot write the PNG: {0}")]
    Png(#[from] png::EncodingError),
}

pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let modules = code.width();
    let colours = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, colour) in colours.iter().enumerate() {
        if *colour == qrcode::Color::Dark {
            let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.write_header()?.write_image_data(&pixels)?;
    Ok(out)
}
