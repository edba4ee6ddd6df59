//! `POST /v1/images:analyze`: an image as the raw body (`Content-Type: image/…`) or as a
//! multipart form's file; the analysis as JSON, or with `?crop=PLATFORM` the image cropped for
//! that platform.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeQuery {
    /// A platform id (x, instagram, …): answer with the image cropped for it instead of JSON;
    /// the crop is in the `x-crop` header (`x,y,width,height`) and the id in `x-image-id`.
    pub crop: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageAnalysisResponse {
    /// Pass it to `POST /v1/captions:generate` as `image_id` (kept for a day).
    pub image_id: String,
    pub width: u32,
    pub height: u32,
    /// jpeg, png, webp or gif.
    pub format: String,
    pub bytes: usize,
    pub aspect_ratio: f64,
    /// The EXIF orientation was applied: width and height are as shown.
    pub reoriented: bool,
    pub platform_fit: Vec<PlatformFitBody>,
    pub quality: QualityBody,
    pub colors: Vec<ColorBody>,
    pub ocr: OcrBody,
    pub alt_text: String,
    /// Things to fix before posting (blurry, dark, small), and OCR not running.
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformFitBody {
    pub platform: String,
    /// Shown uncropped in the platform's feed.
    pub ok: bool,
    pub reason: String,
    /// The whole image when it fits; otherwise the suggested crop.
    pub crop: RectBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RectBody {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QualityBody {
    /// Mean luminance, 0 (black) to 1 (white).
    pub brightness: f64,
    /// Standard deviation of luminance, 0 to 0.5.
    pub contrast: f64,
    /// Variance of the Laplacian of the grey image (at most 1,024 px a side); under 100 is blurry.
    pub sharpness: f64,
    pub blurry: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ColorBody {
    /// `#rrggbb`
    pub hex: String,
    /// Fraction of the image.
    pub share: f64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OcrBody {
    /// The model that read the text; null when OCR did not run.
    pub model: Option<String>,
    /// Lines in reading order: side by side joined by a space, rows by a newline.
    pub text: String,
    pub lines: Vec<TextLineBody>,
    /// Why OCR did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TextLineBody {
    pub text: String,
    pub confidence: f32,
    /// Corners `[x, y]`: top-left, top-right, bottom-right, bottom-left, in image pixels.
    #[serde(rename = "box")]
    pub corners: Vec<[f32; 2]>,
}

/// Analyse an image: fit per platform with crops, quality, colours, OCR and alt text.
#[utoipa::path(
    post,
    path = "/v1/images:analyze",
    tag = "images",
    params(AnalyzeQuery, ("x-tenant-id" = Option<String>, Header)),
    request_body(
        description = "The image (JPEG, PNG, WebP or GIF) as the body with its image content type, or as multipart/form-data (the first file part).",
        content(
            (Vec<u8> = "image/*"),
            (Vec<u8> = "multipart/form-data"),
        )
    ),
    responses(
        (status = 200, body = ImageAnalysisResponse, description = "The analysis; with `crop`, the cropped image bytes instead"),
        (status = 413, body = ErrorBody, description = "Over --max-image-bytes, or over --max-image-pixels by its header"),
        (status = 415, body = ErrorBody, description = "Not an image, or a format not read here"),
        (status = 422, body = ErrorBody, description = "Truncated or corrupt, 0×0, or an unknown platform"),
        (status = 429, body = ErrorBody, description = "Too many images in flight; see Retry-After"),
    )
)]
pub async fn analyze(
    State(state): State<AppState>,
    Caller(principal): Caller,
    query: Result<Query<AnalyzeQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.body_text() })?;
    let limit = state.services.images.max_bytes();
    let image = upload(request, limit).await?;
    let (analysis, cropped) = state.services.images.analyze(&principal, image.to_vec(), query.crop.as_deref()).await?;
    let Some(cropped) = cropped else {
        return Ok(Json(ImageAnalysisResponse::from(analysis)).into_response());
    };
    let rect = cropped.crop;
    let mut response = cropped.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(cropped.content_type));
    let crop = format!("{},{},{},{}", rect.x, rect.y, rect.width, rect.height);
    for (name, value) in [("x-crop", crop), ("x-image-id", analysis.image_id), ("x-platform", cropped.platform)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// The uploaded bytes: the body of an `image/*` (or `application/octet-stream`) request, or the
/// first file of a multipart form.
async fn upload(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let too_large = || ApiError::Rejected {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("the image is over the limit of {limit} bytes"),
    };
    if content_type.starts_with("multipart/form-data") {
        let rejected = |status: StatusCode, message: String| ApiError::Rejected { status, message };
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| rejected(StatusCode::BAD_REQUEST, e.body_text()))?;
        loop {
            let field = form.next_field().await.map_err(|e| rejected(e.status(), e.body_text()))?;
            let Some(field) = field else {
                return Err(rejected(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the form has no file part: send the image as a file field (`image`)".into(),
                ));
            };
            if field.file_name().is_some() || matches!(field.name(), Some("image" | "file")) {
                return field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        rejected(e.status(), e.body_text())
                    }
                });
            }
        }
    }
    if !(content_type.starts_with("image/") || content_type.starts_with("application/octet-stream")) {
        let shown: String = content_type.chars().take(40).collect();
        return Err(ApiError::Rejected {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!(
                "Content-Type `{shown}`: send the image as the body with its type (image/jpeg, image/png, image/webp, image/gif) or as multipart/form-data"
            ),
        });
    }
    Bytes::from_request(request, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::Rejected { status: e.status(), message: e.body_text() }
        }
    })
}
