//! The assistant page: the dashboard's AI assistant as plain HTML, CSS and ES modules
//! (`api/page/`), compiled into the binary so the service stays one file, served at `/` and
//! `/page/{file}`.
//!
//! The page is a client like any other: it calls only the public REST API, with the key its user
//! types (or none, in development mode). So these routes are public and hold no secret, and the
//! answers lock the page down instead: a content security policy that allows scripts, styles and
//! requests from this origin only, no framing, no referrer. Each file is gzipped once, on first
//! request, and carries an `ETag`, so a reload costs a `304` per file.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset { name: $name, content_type: $type, body: include_bytes!(concat!("../../page/", $name)) }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the page; `index.html` is served at `/`.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("composer.js", JS),
    asset!("captions.js", JS),
    asset!("image.js", JS),
    asset!("timing.js", JS),
    asset!("publishing.js", JS),
];

const SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An asset's gzipped body and its entity tag, made once.
struct Prepared {
    gzipped: Bytes,
    etag: HeaderValue,
}

fn prepared() -> &'static [Prepared] {
    static PREPARED: OnceLock<Vec<Prepared>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                encoder.write_all(asset.body).expect("gzip into memory");
                let gzipped = encoder.finish().expect("gzip into memory");
                let mut hasher = std::hash::DefaultHasher::new();
                asset.body.hash(&mut hasher);
                let etag = HeaderValue::from_str(&format!("\"{:016x}\"", hasher.finish())).expect("hex is a header");
                Prepared { gzipped: Bytes::from(gzipped), etag }
            })
            .collect()
    })
}

/// `GET /`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// `GET /page/{file}`: its styles and modules.
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|asset| asset.name == name) {
        Some(index) => serve(index, &headers),
        None => {
            let message = "the assistant page has no file of that name; open it at /".to_string();
            ApiError::Rejected { status: StatusCode::NOT_FOUND, message }.into_response()
        }
    }
}

fn serve(index: usize, headers: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let prepared = &prepared()[index];
    let mut response = if headers.get(header::IF_NONE_MATCH) == Some(&prepared.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(headers) {
        let mut response = prepared.gzipped.clone().into_response();
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        asset.body.into_response()
    };
    let answer = response.headers_mut();
    answer.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    answer.insert(header::ETAG, prepared.etag.clone());
    answer.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    // Revalidate every time: a new binary's page is seen at once, an unchanged one costs a 304.
    answer.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    answer.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(SECURITY_POLICY));
    answer.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    answer.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    answer.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Whether `Accept-Encoding` lists gzip without refusing it (`gzip;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(accepted) = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()) else { return false };
    accepted.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_encoding(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        assert!(accepts_gzip(&with_encoding("gzip, deflate, br")));
        assert!(accepts_gzip(&with_encoding("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with_encoding("*")));
        assert!(!accepts_gzip(&with_encoding("gzip;q=0")));
        assert!(!accepts_gzip(&with_encoding("br, identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn every_asset_is_gzipped_and_tagged() {
        assert_eq!(prepared().len(), ASSETS.len());
        for (asset, prepared) in ASSETS.iter().zip(prepared()) {
            assert!(!asset.body.is_empty(), "{} is empty", asset.name);
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&prepared.gzipped[..]), &mut decoded).unwrap();
            assert_eq!(decoded, asset.body, "{}", asset.name);
        }
    }
}
