//! Decoding photos to raw pixels and writing edited images as PNG.

use std::io::Cursor;

use image::{ColorType, ImageEncoder, ImageReader, Limits};
use vouch_image::spec::{MAX_PIXELS, MAX_SIDE};
use vouch_image::Image;

use crate::error::VouchError;

/// Decodes a PNG or JPEG to 8-bit RGB, or 8-bit gray when the file is gray. Alpha is dropped:
/// the attested pixels are what a camera sensor gives. Sizes past Vouch's limits are refused
/// before the decoder allocates.
pub fn decode(bytes: &[u8], what: &str) -> Result<Image, VouchError> {
    let bad = |msg: String| VouchError::Data {
        what: what.to_string(),
        msg,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    if reader.format().is_none() {
        return Err(bad("not a PNG or JPEG image".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE as u32);
    limits.max_image_height = Some(MAX_SIDE as u32);
    limits.max_alloc = Some((MAX_PIXELS as u64) * 8);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| bad(format!("cannot decode: {e}")))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let gray = matches!(
        img.color(),
        ColorType::L8 | ColorType::L16 | ColorType::La8 | ColorType::La16
    );
    let (channels, data) = if gray {
        (1, img.to_luma8().into_raw())
    } else {
        (3, img.to_rgb8().into_raw())
    };
    let out = Image::new(w, h, channels, data).map_err(|e| bad(e.to_string()))?;
    vouch_image::check_edits(w, h, channels, &[]).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}

/// PNG bytes of an image (gray or RGB).
pub fn encode_png(img: &Image) -> Result<Vec<u8>, VouchError> {
    let color = match img.channels {
        1 => image::ExtendedColorType::L8,
        3 => image::ExtendedColorType::Rgb8,
        c => {
            return Err(VouchError::Data {
                what: "image".into(),
                msg: format!("{c} channels cannot be written as PNG"),
            })
        }
    };
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&img.data, img.width as u32, img.height as u32, color)
        .map_err(|e| VouchError::Data {
            what: "image".into(),
            msg: format!("PNG encoding failed: {e}"),
        })?;
    Ok(out)
}
