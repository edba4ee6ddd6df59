//! `POST /v1/images:analyze`: what an image is, how it fits each platform, the text in it (OCR)
//! and alt text, and, on request, the image cropped for one platform.
//!
//! The path of an upload: the size and format are checked and the pixel count read from the
//! header before decoding (`decode.rs`); OCR reads the upright image through the model's own
//! bounded queue (`eiq_inference::ocr`); exposure, focus and colours are measured on reduced
//! copies (`measure.rs`); each platform's fit and crop come from a data table and the detected
//! text (`crop.rs`); the alt text is composed by rules (`alt_text.rs`). The summary is kept in a
//! bounded cache (`cache.rs`) under the image's content hash, which is its `image_id`, so a
//! caption request can use the image without uploading it again.
//!
//! Without the OCR model (not configured, still loading, failed) an image is still analysed; the
//! answer says OCR did not run and why.

mod alt_text;
mod cache;
mod crop;
mod decode;
mod measure;

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eiq_inference::ocr::OcrOutput;
use eiq_inference::{InferenceError, ModelRegistry};
use image::{ImageFormat, RgbImage};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

pub use alt_text::MAX_ALT_TEXT_CHARS;
pub use cache::ImageContext;
pub use crop::{CropRule, Rect};
pub use decode::FORMATS;
pub use measure::{Color, Quality};

use crate::error::{Resource, ServiceError};
use crate::tenancy::Principal;

/// Analysed images remembered for captions: in all, per tenant, and for how long.
pub const IMAGE_CACHE_ENTRIES: usize = 4_096;
pub const IMAGE_CACHE_PER_TENANT: usize = 256;
pub const IMAGE_CACHE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest `image_id` accepted, in bytes.
pub const MAX_IMAGE_ID_BYTES: usize = 64;

#[derive(Debug, Clone)]
pub struct ImageSettings {
    /// The OCR model's catalogue id.
    pub ocr_model: String,
    /// Largest upload, in bytes.
    pub max_bytes: usize,
    /// Largest image, in pixels (from its header, before decoding).
    pub max_pixels: u64,
    /// Images analysed at once; more are refused (429).
    pub max_in_flight: usize,
}

/// One line of text found in the image.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    pub confidence: f32,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left (of the text's
    /// reading direction).
    pub corners: [[f32; 2]; 4],
}

#[derive(Debug, Clone, PartialEq)]
pub struct OcrResult {
    /// The model that read the text; `None` when OCR did not run.
    pub model: Option<String>,
    /// Lines in reading order; side-by-side lines joined by a space, rows by a newline.
    pub text: String,
    pub lines: Vec<TextLine>,
    /// Why OCR did not run, when it did not.
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlatformFit {
    pub platform: String,
    pub ok: bool,
    pub reason: String,
    pub crop: Rect,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageAnalysis {
    pub image_id: String,
    pub width: u32,
    pub height: u32,
    /// `jpeg`, `png`, `webp` or `gif`.
    pub format: &'static str,
    pub bytes: usize,
    pub aspect_ratio: f64,
    /// The EXIF orientation was applied (width and height are as shown).
    pub reoriented: bool,
    pub platform_fit: Vec<PlatformFit>,
    pub quality: Quality,
    pub colors: Vec<Color>,
    pub ocr: OcrResult,
    pub alt_text: String,
    /// Things a person should fix before posting (blurry, dark, small), and OCR not running.
    pub warnings: Vec<String>,
}

impl ImageAnalysis {
    /// What captions need of it.
    pub fn context(&self) -> ImageContext {
        ImageContext {
            image_id: self.image_id.clone(),
            width: self.width,
            height: self.height,
            text: self.ocr.text.clone(),
            alt_text: self.alt_text.clone(),
        }
    }
}

/// The image cropped for one platform.
#[derive(Debug, Clone)]
pub struct CroppedImage {
    pub platform: String,
    pub crop: Rect,
    pub bytes: Vec<u8>,
    /// `image/jpeg` for a JPEG upload, `image/png` otherwise.
    pub content_type: &'static str,
}

#[derive(Clone)]
pub struct ImageService {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<ModelRegistry>,
    settings: ImageSettings,
    cache: cache::ImageCache,
    in_flight: Arc<Semaphore>,
}

impl ImageService {
    pub fn new(registry: Arc<ModelRegistry>, settings: ImageSettings) -> Self {
        let cache = cache::ImageCache::new(IMAGE_CACHE_ENTRIES, IMAGE_CACHE_PER_TENANT, IMAGE_CACHE_TTL);
        let in_flight = Arc::new(Semaphore::new(settings.max_in_flight.max(1)));
        Self { inner: Arc::new(Inner { registry, settings, cache, in_flight }) }
    }

    pub fn max_bytes(&self) -> usize {
        self.inner.settings.max_bytes
    }

    /// Analyses `bytes`; with `crop`, also returns the image cropped for that platform.
    pub async fn analyze(
        &self,
        principal: &Principal,
        bytes: Vec<u8>,
        crop: Option<&str>,
    ) -> Result<(ImageAnalysis, Option<CroppedImage>), ServiceError> {
        let started = Instant::now();
        let settings = &self.inner.settings;
        if bytes.len() > settings.max_bytes {
            return Err(ServiceError::TooLarge {
                limit: settings.max_bytes as u64,
                message: format!("the image is {} bytes; the limit is {}", bytes.len(), settings.max_bytes),
                hint: Some(crate::error::Hint::ServerSetting { flag: "--max-image-bytes", action: "raise" }),
            });
        }
        let crop_platform = crop.map(|platform| crate::posts::find("crop", platform)).transpose()?;
        let _permit = Arc::clone(&self.inner.in_flight).try_acquire_owned().map_err(|_| ServiceError::Busy {
            message: format!("{} images are being analysed; retry shortly", settings.max_in_flight),
            retry_after: Duration::from_secs(1),
        })?;
        let image_id = image_id(&bytes);
        let max_pixels = settings.max_pixels;
        let size = bytes.len();
        let decoded = blocking(move || decode::decode(&bytes, max_pixels)).await?;
        let decoded = decoded?;
        let image = Arc::new(decoded.image);
        let ocr = self.read_text(Arc::clone(&image)).await?;

        let format = decoded.format;
        let (analysis, cropped) = blocking(move || {
            let analysis = describe(&image, format, size, image_id, decoded.reoriented, ocr);
            let cropped = match crop_platform {
                None => None,
                Some(rules) => {
                    let fit = analysis
                        .platform_fit
                        .iter()
                        .find(|fit| fit.platform == rules.id)
                        .expect("every platform has a fit");
                    let (bytes, content_type) = encode(&image, fit.crop, format)?;
                    Some(CroppedImage { platform: rules.id.clone(), crop: fit.crop, bytes, content_type })
                }
            };
            Ok::<_, ServiceError>((analysis, cropped))
        })
        .await??;
        self.inner.cache.insert(&principal.tenant, analysis.context());
        metrics::counter!("eiq_images_analyzed_total", "format" => analysis.format).increment(1);
        metrics::histogram!("eiq_image_analysis_seconds").record(started.elapsed().as_secs_f64());
        Ok((analysis, cropped))
    }

    /// The tenant's analysed image `image_id`, for captions.
    pub fn context(&self, principal: &Principal, image_id: &str) -> Result<ImageContext, ServiceError> {
        if image_id.is_empty() || image_id.len() > MAX_IMAGE_ID_BYTES {
            return Err(ServiceError::invalid(
                "image_id",
                format!("image_id must be 1–{MAX_IMAGE_ID_BYTES} bytes, as images:analyze returned it"),
            ));
        }
        self.inner.cache.get(&principal.tenant, image_id).ok_or_else(|| ServiceError::NotFound {
            resource: Resource::Image(image_id.to_string()),
            message: format!(
                "no analysed image `{}` for this tenant (ids are kept for {} hours); analyse the image again or send its bytes",
                crate::limits::excerpt(image_id),
                IMAGE_CACHE_TTL.as_secs() / 3600
            ),
            hint: None,
        })
    }

    /// OCR through the model's queue. A model that is not there, or fails, leaves the answer
    /// without text (and says why); a full queue is the caller's to retry.
    async fn read_text(&self, image: Arc<RgbImage>) -> Result<Result<(String, OcrOutput), String>, ServiceError> {
        let model = &self.inner.settings.ocr_model;
        let served = match self.inner.registry.get_ocr(model) {
            Ok(served) => served,
            Err(err) => return Ok(Err(err.to_string())),
        };
        match served.read(image).await {
            Ok(output) => Ok(Ok((model.clone(), output))),
            Err(err @ InferenceError::QueueFull { .. }) => Err(err.into()),
            Err(err) => {
                tracing::error!(model = %model, error = %err, "OCR failed");
                Ok(Err(format!("OCR failed: {}", crate::limits::excerpt(&err.to_string()))))
            }
        }
    }
}

/// `img_` and the first 128 bits of the bytes' SHA-256, in hex.
fn image_id(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("img_{}", hex::encode(&digest[..16]))
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ServiceError::internal("image analysis task", e))
}

/// Everything but OCR, measured on the decoded image, with OCR's result folded in.
fn describe(
    image: &RgbImage,
    format: ImageFormat,
    size: usize,
    image_id: String,
    reoriented: bool,
    ocr: Result<(String, OcrOutput), String>,
) -> ImageAnalysis {
    let (width, height) = image.dimensions();
    // One pass over the full image; the rest works on the reduced copy.
    let reduced = measure::shrink(image, 1_024);
    let grey = measure::grey(&reduced);
    let quality = measure::quality(&grey);
    let colors = measure::colors(&measure::shrink(&reduced, 128));
    let ocr = match ocr {
        Ok((model, output)) => ocr_result(model, output),
        Err(reason) => OcrResult { model: None, text: String::new(), lines: Vec::new(), unavailable: Some(reason) },
    };
    let text_bounds: Vec<(f64, f64, f64, f64)> = ocr
        .lines
        .iter()
        .map(|line| {
            let xs = line.corners.map(|c| f64::from(c[0]));
            let ys = line.corners.map(|c| f64::from(c[1]));
            let min = |v: [f64; 4]| v.into_iter().fold(f64::MAX, f64::min);
            let max = |v: [f64; 4]| v.into_iter().fold(f64::MIN, f64::max);
            (min(xs), min(ys), max(xs), max(ys))
        })
        .collect();
    let importance = crop::Importance::new(&grey, f64::from(grey.width()) / f64::from(width), text_bounds);
    let platform_fit = crate::posts::builtin()
        .iter()
        .filter_map(|platform| {
            let rule = crop::table().iter().find(|rule| rule.id == platform.id)?;
            let fit = crop::fit(rule, &platform.name, width, height, &importance);
            Some(PlatformFit { platform: platform.id.clone(), ok: fit.ok, reason: fit.reason, crop: fit.crop })
        })
        .collect();
    let format_name = decode::format_name(format);
    let alt_text = alt_text::compose(&alt_text::Described {
        format: format_name,
        width,
        height,
        colors: &colors,
        quality: &quality,
        text: ocr.model.as_ref().map(|_| ocr.text.as_str()),
    });
    let warnings = warnings(width, height, &quality, &ocr);
    ImageAnalysis {
        image_id,
        width,
        height,
        format: format_name,
        bytes: size,
        aspect_ratio: f64::from(width) / f64::from(height),
        reoriented,
        platform_fit,
        quality,
        colors,
        ocr,
        alt_text,
        warnings,
    }
}

fn ocr_result(model: String, output: OcrOutput) -> OcrResult {
    let text = output.text();
    let lines = output
        .lines
        .into_iter()
        .map(|line| TextLine { text: line.text, confidence: line.confidence, corners: line.quad.0.map(|p| [p.x, p.y]) })
        .collect();
    OcrResult { model: Some(model), text, lines, unavailable: None }
}

/// Images narrower than this look soft in every feed (most show 1,080 px).
const SMALL_BELOW: u32 = 600;

fn warnings(width: u32, height: u32, quality: &Quality, ocr: &OcrResult) -> Vec<String> {
    let mut warnings = Vec::new();
    if quality.blurry {
        warnings.push(format!("blurry: sharpness {:.0} is under {:.0}", quality.sharpness, measure::BLURRY_BELOW));
    }
    if quality.brightness < 0.2 {
        warnings.push(format!("dark: brightness {:.2} (0 is black, 1 white)", quality.brightness));
    } else if quality.brightness > 0.9 {
        warnings.push(format!("overexposed: brightness {:.2} (0 is black, 1 white)", quality.brightness));
    }
    if quality.contrast < 0.08 {
        warnings.push(format!("low contrast: {:.2}", quality.contrast));
    }
    if width < SMALL_BELOW {
        warnings.push(format!("small: {width}×{height}; feeds show images {SMALL_BELOW} px wide or more"));
    }
    if let Some(reason) = &ocr.unavailable {
        warnings.push(format!("no OCR: {reason}"));
    }
    warnings
}

/// The `rect` of `image`, encoded as JPEG (quality 90) for a JPEG upload and PNG otherwise.
fn encode(image: &RgbImage, rect: Rect, format: ImageFormat) -> Result<(Vec<u8>, &'static str), ServiceError> {
    let cropped = image::imageops::crop_imm(image, rect.x, rect.y, rect.width, rect.height).to_image();
    let mut out = Cursor::new(Vec::new());
    let written = if format == ImageFormat::Jpeg {
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&cropped).map(|_| "image/jpeg")
    } else {
        cropped.write_to(&mut out, ImageFormat::Png).map(|_| "image/png")
    };
    let content_type = written.map_err(|e| ServiceError::internal("encoding a cropped image", e))?;
    Ok((out.into_inner(), content_type))
}
