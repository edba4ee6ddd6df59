//! Bytes to pixels, refusing what would hurt the server before it can.
//!
//! The format is read from the bytes (never from the client's `Content-Type`), and the size from
//! the header: an image over the pixel limit (a decompression bomb declares 100,000 × 100,000 in a
//! few hundred bytes) is refused before a single pixel is decoded. The decoder also gets an
//! allocation limit, for files that lie in their header. EXIF orientation is applied, so "up" is
//! what the camera meant; transparency is laid on white, as a page would show it.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::ServiceError;
use crate::limits::excerpt;

/// An upload, decoded and upright.
pub struct Decoded {
    pub image: RgbImage,
    pub format: ImageFormat,
    /// The EXIF orientation was not "as stored", and has been applied.
    pub reoriented: bool,
}

/// The formats served, by name.
pub const FORMATS: &str = "JPEG, PNG, WebP or GIF";

pub fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        ImageFormat::Gif => "gif",
        _ => "other",
    }
}

/// Decodes `bytes` (the first frame of an animation) within `max_pixels`.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Decoded, ServiceError> {
    if bytes.is_empty() {
        return Err(ServiceError::invalid("image", "the image is empty (0 bytes)"));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ServiceError::internal("reading an upload from memory", e))?;
    let format = match reader.format() {
        Some(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif)) => format,
        Some(other) => {
            return Err(ServiceError::UnsupportedMedia {
                message: format!(
                    "{} images are not read here; send {FORMATS}",
                    other.extensions_str()[0].to_uppercase()
                ),
            });
        }
        None => {
            return Err(ServiceError::UnsupportedMedia {
                message: format!("the bytes are not an image ({FORMATS}): they start {:?}", start_of(bytes)),
            });
        }
    };
    let mut reader = reader;
    let mut limits = Limits::default();
    // Room for the decoded pixels (RGBA, 16 bits at most) and the decoder's own buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| undecodable(format, &e))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ServiceError::invalid("image", format!("the image is {width}×{height} pixels: it has no pixels")));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(ServiceError::TooLarge {
            limit: max_pixels,
            message: format!("the image is {width}×{height} = {pixels} pixels; at most {max_pixels} are read"),
            hint: Some(crate::error::Hint::ServerSetting { flag: "--max-image-pixels", action: "raise" }),
        });
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| undecodable(format, &e))?;
    let reoriented = orientation != image::metadata::Orientation::NoTransforms;
    image.apply_orientation(orientation);
    Ok(Decoded { image: on_white(image), format, reoriented })
}

/// RGB, with any transparency composited onto white.
fn on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut rgb = RgbImage::new(width, height);
    for (out, pixel) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = pixel.0;
        let blend = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        out.0 = [blend(r), blend(g), blend(b)];
    }
    rgb
}

fn undecodable(format: ImageFormat, err: &image::ImageError) -> ServiceError {
    match err {
        image::ImageError::Limits(_) => ServiceError::TooLarge {
            limit: 0,
            message: format!("the {} image needs more memory to decode than an upload may use", format_name(format)),
            hint: None,
        },
        image::ImageError::Unsupported(e) => ServiceError::UnsupportedMedia {
            message: format!(
                "this {} image uses a feature not read here: {}",
                format_name(format),
                excerpt(&e.to_string())
            ),
        },
        _ => ServiceError::invalid(
            "image",
            format!(
                "the {} image could not be decoded (truncated or corrupt): {}",
                format_name(format),
                excerpt(&err.to_string())
            ),
        ),
    }
}

/// The first bytes, printable, for an error message.
fn start_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(8)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect()
}
