//! `POST /v1/images:analyze` and gRPC `Images.Analyze` on a real server with the real OCR model
//! (PaddleOCR v4 on ONNX Runtime): text is read and placed, each platform's fit and crop keep it,
//! EXIF orientation, CMYK JPEG, animated GIF and WebP are handled, hostile uploads (not images,
//! truncated, decompression bombs, oversized) are 4xx without harm, and captions use the image.

mod common;

use std::io::Cursor;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::history::{message, post, tenant};
use common::{TestServer, start, wait_ready};
use eiq_inference::ocr::render::{render_lines, system_font};
use eiq_proto::v1::AnalyzeImageRequest;
use eiq_proto::v1::images_client::ImagesClient;
use image::{ImageFormat, RgbImage};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MODELS: &str = "minilm-l6-v2,tweet-minilm-l6-v1-int8,smollm2-135m-instruct,ppocr-v4";
const MAX_IMAGE_BYTES: usize = 3_000_000;
const LINES: [&str; 3] = ["SUMMER SALE", "50% off all shoes", "Saturday 10am to 6pm"];

async fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    let server = SERVER.get_or_init(|| {
        start(&["--models", MODELS, "--max-image-bytes", &MAX_IMAGE_BYTES.to_string(), "--max-ocr-in-flight", "2"])
    });
    wait_ready(server).await;
    server
}

/// A 1080 × 1350 (4:5) poster with three lines of text near its top.
fn poster() -> RgbImage {
    let font = system_font("DejaVuSans-Bold.ttf").unwrap();
    render_lines(&font, &LINES, 64.0, 1080, 1350)
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

async fn analyze(
    server: &TestServer,
    tenant_id: &str,
    content_type: &str,
    body: Vec<u8>,
    query: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(&format!("/v1/images:analyze{query}")))
        .header("x-tenant-id", tenant_id)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn analyze_json(server: &TestServer, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = analyze(server, "images", content_type, body, "").await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[tokio::test]
async fn a_poster_is_read_fitted_cropped_and_described() {
    let server = server().await;
    let png = encode(&poster(), ImageFormat::Png);
    let started = Instant::now();
    let (status, answer) = analyze_json(server, "image/png", png.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    eprintln!("analysed 1080×1350 in {:?}", started.elapsed());
    assert_eq!((answer["width"].as_u64(), answer["height"].as_u64()), (Some(1080), Some(1350)));
    assert_eq!((answer["format"].as_str(), answer["bytes"].as_u64()), (Some("png"), Some(png.len() as u64)));
    assert!((answer["aspect_ratio"].as_f64().unwrap() - 0.8).abs() < 1e-9);
    assert_eq!(answer["ocr"]["model"], "ppocr-v4");
    assert_eq!(words(answer["ocr"]["text"].as_str().unwrap()), words(&LINES.join(" ")), "{}", answer["ocr"]);
    let lines = answer["ocr"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    for line in lines {
        let corners = line["box"].as_array().unwrap();
        assert_eq!(corners.len(), 4);
        assert!(corners.iter().all(|c| c[0].as_f64().unwrap() <= 1080.0 && c[1].as_f64().unwrap() <= 500.0), "{line}");
        assert!(line["confidence"].as_f64().unwrap() > 0.8, "{line}");
    }
    let alt = answer["alt_text"].as_str().unwrap();
    assert!(alt.starts_with("Image, portrait (1080×1350), mostly white") && alt.contains("SUMMER SALE"), "{alt}");
    assert!(answer["image_id"].as_str().unwrap().starts_with("img_"));

    // Every platform, in the rules' order; a 4:5 poster fits Instagram and is cropped to 16:9 for
    // YouTube, keeping the text at its top.
    let fits = answer["platform_fit"].as_array().unwrap();
    assert_eq!(fits.len(), 10);
    let fit = |id: &str| fits.iter().find(|f| f["platform"] == id).unwrap().clone();
    assert_eq!(fit("instagram")["ok"], true);
    assert_eq!(fit("instagram")["crop"], json!({"x": 0, "y": 0, "width": 1080, "height": 1350}));
    let youtube = fit("youtube");
    assert_eq!(youtube["ok"], false);
    assert_eq!((youtube["crop"]["width"].as_u64(), youtube["crop"]["height"].as_u64()), (Some(1080), Some(607)));
    assert!(youtube["crop"]["y"].as_u64().unwrap() < 100, "{youtube}");
    assert!(youtube["reason"].as_str().unwrap().contains("all detected text kept"), "{youtube}");

    // The same image as a multipart form has the same id; `?crop=` answers the cropped image.
    let form = reqwest::multipart::Form::new()
        .text("note", "ignored")
        .part("image", reqwest::multipart::Part::bytes(png.clone()).file_name("poster.png"));
    let response = reqwest::Client::new()
        .post(server.url("/v1/images:analyze"))
        .header("x-tenant-id", "images")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let multipart: Value = response.json().await.unwrap();
    assert_eq!(multipart["image_id"], answer["image_id"]);

    let response = analyze(server, "images", "image/png", png, "?crop=youtube").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-image-id"].to_str().unwrap(), answer["image_id"].as_str().unwrap());
    let crop = &youtube["crop"];
    let expected = format!("{},{},{},{}", crop["x"], crop["y"], crop["width"], crop["height"]);
    assert_eq!(response.headers()["x-crop"].to_str().unwrap(), expected);
    let cropped = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((cropped.width(), cropped.height()), (1080, 607));
}

/// A JPEG of `image` with an EXIF APP1 segment saying `orientation`.
fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let jpeg = encode(image, ImageFormat::Jpeg);
    let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[tokio::test]
async fn exif_orientation_cmyk_jpeg_animated_gif_and_webp_are_handled() {
    let server = server().await;
    // A wide photo stored on its side: orientation 6 turns it a quarter clockwise.
    let stored = RgbImage::from_fn(200, 100, |x, _| image::Rgb(if x < 100 { [200, 30, 30] } else { [30, 30, 200] }));
    let (status, answer) = analyze_json(server, "image/jpeg", jpeg_with_orientation(&stored, 6)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64(), answer["reoriented"].as_bool()),
        (Some(100), Some(200), Some(true))
    );

    let mut cmyk = Vec::new();
    let pixels: Vec<u8> = (0..64 * 48).flat_map(|_| [0u8, 200, 200, 0]).collect();
    jpeg_encoder::Encoder::new(&mut cmyk, 90).encode(&pixels, 64, 48, jpeg_encoder::ColorType::Cmyk).unwrap();
    let (status, answer) = analyze_json(server, "image/jpeg", cmyk).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["width"].as_u64(), answer["format"].as_str()), (Some(64), Some("jpeg")));

    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        let frame = |rgb: [u8; 4]| image::Frame::new(image::RgbaImage::from_pixel(40, 30, image::Rgba(rgb)));
        encoder.encode_frames([frame([20, 160, 60, 255]), frame([240, 200, 40, 255])]).unwrap();
    }
    let (status, answer) = analyze_json(server, "image/gif", gif).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["format"], "gif");
    assert_eq!(answer["colors"][0]["name"], "green", "the first frame: {answer}");

    let transparent = image::RgbaImage::from_pixel(50, 50, image::Rgba([0, 0, 0, 0]));
    let mut webp = Cursor::new(Vec::new());
    transparent.write_to(&mut webp, ImageFormat::WebP).unwrap();
    let (status, answer) = analyze_json(server, "image/webp", webp.into_inner()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["format"].as_str(), answer["colors"][0]["name"].as_str()),
        (Some("webp"), Some("white")),
        "transparency is laid on white"
    );
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG whose header claims `width` × `height` (its CRC kept valid) over a tiny real image.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = encode(&RgbImage::new(8, 8), ImageFormat::Png);
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A JPEG whose frame header claims 65,535 × 65,535.
fn jpeg_bomb() -> Vec<u8> {
    let mut jpeg = encode(&RgbImage::new(8, 8), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    jpeg
}

#[tokio::test]
async fn hostile_uploads_are_4xx_at_once_and_lose_nothing() {
    let server = server().await;
    let png = encode(&poster(), ImageFormat::Png);
    // Formats the decoder knows by their magic bytes but this server does not read.
    let (bmp, tiff) = ([b"BM".as_slice(), &[0; 60]].concat(), [b"II*\0".as_slice(), &[0; 60]].concat());
    // (name, content type, body, query, the statuses that may answer it)
    type Case<'a> = (&'a str, &'a str, Vec<u8>, &'a str, &'a [StatusCode]);
    let cases: Vec<Case> = vec![
        ("empty", "image/png", Vec::new(), "", &[StatusCode::UNPROCESSABLE_ENTITY]),
        ("text", "text/plain", b"hello".to_vec(), "", &[StatusCode::UNSUPPORTED_MEDIA_TYPE]),
        ("not an image", "image/png", b"<html>not an image</html>".to_vec(), "", &[StatusCode::UNSUPPORTED_MEDIA_TYPE]),
        (
            "non-UTF-8 noise",
            "image/jpeg",
            vec![0xFF, 0xFE, 0x00, 0x80, 0x81],
            "",
            &[StatusCode::UNSUPPORTED_MEDIA_TYPE],
        ),
        ("truncated", "image/png", png[..png.len() / 2].to_vec(), "", &[StatusCode::UNPROCESSABLE_ENTITY]),
        (
            "0×0",
            "image/png",
            png_claiming(0, 0),
            "",
            &[StatusCode::UNPROCESSABLE_ENTITY, StatusCode::UNSUPPORTED_MEDIA_TYPE],
        ),
        ("PNG bomb", "image/png", png_claiming(100_000, 100_000), "", &[StatusCode::PAYLOAD_TOO_LARGE]),
        ("JPEG bomb", "image/jpeg", jpeg_bomb(), "", &[StatusCode::PAYLOAD_TOO_LARGE]),
        ("BMP", "image/bmp", bmp, "", &[StatusCode::UNSUPPORTED_MEDIA_TYPE]),
        ("TIFF", "image/tiff", tiff, "", &[StatusCode::UNSUPPORTED_MEDIA_TYPE]),
        ("oversized", "image/png", vec![0x89; MAX_IMAGE_BYTES + 1], "", &[StatusCode::PAYLOAD_TOO_LARGE]),
        ("unknown platform", "image/png", png.clone(), "?crop=myspace", &[StatusCode::UNPROCESSABLE_ENTITY]),
        ("unknown parameter", "image/png", png.clone(), "?cropp=x", &[StatusCode::UNPROCESSABLE_ENTITY]),
    ];
    for (name, content_type, body, query, expected) in cases {
        let started = Instant::now();
        let response = analyze(server, "images", content_type, body, query).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(expected.contains(&status), "{name}: {status} {answer}");
        let text = message(&answer);
        let leaks_a_path = ["/tmp", "/root", "/home", "/usr", ".cache"].iter().any(|p| text.contains(p));
        assert!(!text.is_empty() && !leaks_a_path, "{name}: a clear message without paths: {text}");
        assert!(started.elapsed() < Duration::from_secs(5), "{name} took {:?}", started.elapsed());
        if name == "unknown platform" {
            assert!(text.contains("instagram") && text.contains("youtube"), "{text}");
        }
    }
    // Still serving, and still reading.
    let (status, answer) = analyze_json(server, "image/png", png).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!answer["ocr"]["lines"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_uploads_over_the_limit_are_429_with_retry_after_never_5xx() {
    let server = server().await;
    let jpeg = encode(&poster(), ImageFormat::Jpeg);
    let requests = (0..8).map(|i| {
        let body = jpeg.clone();
        async move { analyze(server, &format!("burst{i}"), "image/jpeg", body, "").await }
    });
    let responses = futures::future::join_all(requests).await;
    let mut refused = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert!(response.headers().contains_key("retry-after"));
            }
            other => panic!("{other}: {:?}", response.text().await),
        }
    }
    assert!(refused > 0, "8 at once over a limit of 2 in flight");
}

#[tokio::test]
async fn captions_are_written_from_an_image_by_id_or_bytes_and_ids_stay_with_their_tenant() {
    let server = server().await;
    let png = encode(&poster(), ImageFormat::Png);
    let response = analyze(server, "captions-a", "image/png", png.clone(), "").await;
    let analysis: Value = response.json().await.unwrap();
    let image_id = analysis["image_id"].as_str().unwrap();

    let body = json!({"text": "", "image_id": image_id, "platforms": ["x"], "seed": 3});
    let (status, answer) = post(server, "captions-a", "/v1/captions:generate", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["method"], "model");
    let variant = &answer["variants"][0];
    assert_eq!(variant["valid"], true, "{variant}");
    eprintln!("caption from the poster: {}", variant["text"]);

    // Another tenant cannot use the id, and a made-up id is not found either.
    let (status, other) = post(server, "captions-b", "/v1/captions:generate", body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
    let unknown = json!({"text": "hi", "image_id": "img_00", "platforms": ["x"]});
    assert_eq!(post(server, "captions-a", "/v1/captions:generate", unknown).await.0, StatusCode::NOT_FOUND);

    // The bytes inline (base64) work as well; bad base64 names the field.
    use base64::Engine;
    let small = encode(&image::imageops::thumbnail(&poster(), 540, 675), ImageFormat::Png);
    let inline = json!({"text": "Shoe sale this weekend", "image": base64::engine::general_purpose::STANDARD.encode(small), "platforms": ["bluesky"], "seed": 1});
    let (status, answer) = post(server, "captions-b", "/v1/captions:generate", inline).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let bad = json!({"text": "hi", "image": "%%%", "platforms": ["x"]});
    let (status, answer) = post(server, "captions-b", "/v1/captions:generate", bad).await;
    assert_eq!((status, answer["error"]["param"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("image")));
}

#[tokio::test]
async fn grpc_answers_like_rest_with_the_matching_codes() {
    let server = server().await;
    let mut client = ImagesClient::connect(format!("http://{}", server.addr)).await.unwrap();
    let png = encode(&poster(), ImageFormat::Png);
    let request = AnalyzeImageRequest { image: png.clone(), crop: Some("x".into()) };
    let answer = client.analyze(tenant(request, "images")).await.unwrap().into_inner();
    let (_, rest) = analyze_json(server, "image/png", png).await;
    assert_eq!(answer.image_id, rest["image_id"].as_str().unwrap());
    assert_eq!(words(&answer.ocr.as_ref().unwrap().text), words(rest["ocr"]["text"].as_str().unwrap()));
    assert_eq!(answer.platform_fit.len(), 10);
    let cropped = answer.cropped.unwrap();
    assert_eq!((cropped.platform.as_str(), cropped.content_type.as_str()), ("x", "image/png"));
    let crop = cropped.crop.unwrap();
    let image = image::load_from_memory(&cropped.image).unwrap();
    assert_eq!((image.width(), image.height()), (crop.width, crop.height));

    for (bytes, code) in [
        (b"plain text".to_vec(), tonic::Code::InvalidArgument),
        (png_claiming(100_000, 100_000), tonic::Code::ResourceExhausted),
        (vec![0u8; MAX_IMAGE_BYTES + 1], tonic::Code::ResourceExhausted),
    ] {
        let status =
            client.analyze(tenant(AnalyzeImageRequest { image: bytes, crop: None }, "images")).await.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
    }
    let unknown =
        AnalyzeImageRequest { image: encode(&RgbImage::new(8, 8), ImageFormat::Png), crop: Some("myspace".into()) };
    assert_eq!(client.analyze(tenant(unknown, "images")).await.unwrap_err().code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn without_the_ocr_model_an_image_is_still_analysed_and_says_why() {
    let server = start(&["--models", "minilm-l6-v2"]);
    wait_ready(&server).await;
    let (status, answer) = {
        let response = analyze(&server, "images", "image/png", encode(&poster(), ImageFormat::Png), "").await;
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ocr"]["model"], Value::Null);
    assert!(answer["ocr"]["unavailable"].as_str().unwrap().contains("ppocr-v4"), "{answer}");
    assert!(answer["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().starts_with("no OCR")));
    server.shutdown_and_wait();
}
