//! Text in images: PaddleOCR v4's three ONNX models, run on ONNX Runtime.
//!
//! An image goes through three steps, each its own small file:
//! 1. **Detect** (`detect.rs`): a probability map of text pixels, turned into rotated rectangles
//!    by PaddleOCR's DB post-processing (threshold, blobs, smallest rectangle, unclip).
//! 2. **Cut out** (`geometry.rs`): each rectangle is sampled upright out of the full-resolution
//!    image, and the orientation classifier turns upside-down lines right way up.
//! 3. **Read** (`recognize.rs`): lines of similar shape go through the recogniser together, and
//!    CTC turns each into text with a confidence; lines under [`MIN_LINE_CONFIDENCE`] are dropped,
//!    and Chinese forms the recogniser writes into Latin text (`，`, `o` for `0` in numbers) are
//!    put back.
//!
//! [`render`] draws images of known text, for the tests and benchmarks that measure all this.
//!
//! [`ServedOcr`] is the model as the registry serves it: a bounded number of images may be in
//! flight (the rest are refused at once, which the API answers 429), each read on a blocking
//! thread, because one image keeps both cores busy for a fraction of a second.

mod detect;
mod geometry;
mod recognize;
pub mod render;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eiq_models::{FileRole, Manifest, ResolvedModel};
use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use tokio::sync::Semaphore;

pub use detect::Detection;
pub use geometry::{Point, Quad};
pub use recognize::Charset;

use crate::InferenceError;
use crate::backend::onnx_session;

/// Lines read with a lower mean character probability are dropped (PaddleOCR's `drop_score`).
pub const MIN_LINE_CONFIDENCE: f32 = 0.5;
/// A line the classifier calls upside down with at least this probability is turned over.
const ORIENTATION_CONFIDENCE: f32 = 0.9;
/// Lines read in one pass of the recogniser (and of the classifier).
const LINES_PER_PASS: usize = 6;
/// Most lines read from one image; the detector's candidates are bounded as well.
pub const MAX_LINES: usize = 300;

/// One line of text found in an image.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub text: String,
    /// The mean probability of its characters.
    pub confidence: f32,
    /// Where it is, in the image's pixels.
    pub quad: Quad,
    /// Lines with the same row sit side by side; rows count from the top.
    pub row: usize,
}

/// What OCR found, in reading order, and what it took.
#[derive(Debug, Clone, Default)]
pub struct OcrOutput {
    pub lines: Vec<OcrLine>,
    pub detect_time: Duration,
    pub recognize_time: Duration,
}

impl OcrOutput {
    /// The text in reading order: lines side by side joined by a space, rows by a newline.
    pub fn text(&self) -> String {
        let mut text = String::new();
        let mut row = None;
        for line in &self.lines {
            if let Some(previous) = row {
                text.push(if previous == line.row { ' ' } else { '\n' });
            }
            text.push_str(&line.text);
            row = Some(line.row);
        }
        text
    }
}

/// The three sessions and the recogniser's characters.
pub struct OcrModel {
    detector: Mutex<Session>,
    orientation: Option<Mutex<Session>>,
    recognizer: Mutex<Session>,
    charset: Charset,
    detection: Detection,
}

impl OcrModel {
    /// Loads the model's files (the classifier is optional) with `threads` threads per operator.
    pub fn load(resolved: &ResolvedModel, threads: usize) -> Result<Self, InferenceError> {
        let id = &resolved.manifest.id;
        let missing =
            |what: &str| InferenceError::ModelFailed { model: id.clone(), reason: format!("it lists no {what}") };
        let runtime = resolved.runtime_library.as_deref().ok_or_else(|| missing("runtime library"))?;
        let open = |path: &Path| onnx_session(runtime, path, threads).map(Mutex::new);
        let detector = open(&resolved.path(FileRole::Detector).ok_or_else(|| missing("detector"))?)?;
        let recognizer = open(&resolved.path(FileRole::Recognizer).ok_or_else(|| missing("recognizer"))?)?;
        let orientation = resolved.path(FileRole::Orientation).map(|path| open(&path)).transpose()?;
        let charset_path = resolved.path(FileRole::Charset).ok_or_else(|| missing("charset"))?;
        let charset = std::fs::read_to_string(&charset_path).map(|text| Charset::parse(&text)).map_err(|e| {
            InferenceError::ModelFailed { model: id.clone(), reason: format!("reading the charset: {e}") }
        })?;
        Ok(Self { detector, orientation, recognizer, charset, detection: Detection::default() })
    }

    /// The same model with other detection settings.
    pub fn with_detection(self, detection: Detection) -> Self {
        Self { detection, ..self }
    }

    pub fn detection(&self) -> &Detection {
        &self.detection
    }

    /// The text lines of `image`, in reading order.
    pub fn read(&self, image: &RgbImage) -> Result<OcrOutput, InferenceError> {
        let started = Instant::now();
        let quads = self.detect(image)?;
        let detect_time = started.elapsed();
        let started = Instant::now();
        let mut crops: Vec<RgbImage> = quads.iter().map(|(quad, _)| crop(image, quad)).collect();
        self.turn_upright(&mut crops)?;
        let read = self.recognize(&crops)?;
        let lines = quads
            .into_iter()
            .zip(read)
            .filter(|(_, (text, confidence))| *confidence >= MIN_LINE_CONFIDENCE && !text.trim().is_empty())
            .map(|((quad, row), (text, confidence))| OcrLine {
                text: recognize::tidy(text.trim()),
                confidence,
                quad,
                row,
            })
            .collect();
        Ok(OcrOutput { lines, detect_time, recognize_time: started.elapsed() })
    }

    /// Text rectangles in image pixels with their row, in reading order.
    fn detect(&self, image: &RgbImage) -> Result<Vec<(Quad, usize)>, InferenceError> {
        let (width, height) = image.dimensions();
        if width == 0 || height == 0 {
            return Ok(Vec::new());
        }
        let input = detect::prepare(image, self.detection.min_side, self.detection.max_side);
        let shape = [1, 3, input.height, input.width];
        let map = run(&self.detector, shape, &input.tensor)?;
        let &[1, 1, map_height, map_width] = map.shape.as_slice() else {
            return Err(InferenceError::onnx(format!("the detector answered shape {:?}", map.shape)));
        };
        if map.values.len() != map_width * map_height {
            return Err(InferenceError::onnx(format!("the detector answered shape {:?}", map.shape)));
        }
        let (sx, sy) = (width as f32 / map_width as f32, height as f32 / map_height as f32);
        let to_image = |p: Point| {
            Point::new((p.x * sx).round().clamp(0.0, width as f32), (p.y * sy).round().clamp(0.0, height as f32))
        };
        let mut quads: Vec<Quad> = detect::boxes(&map.values, map_width, map_height, &self.detection)
            .into_iter()
            .map(|(quad, _)| quad.map(to_image))
            .filter(|quad| quad.width() >= 1.0 && quad.height() >= 1.0)
            .collect();
        quads.truncate(MAX_LINES);
        Ok(reading_order(quads))
    }

    fn turn_upright(&self, crops: &mut [RgbImage]) -> Result<(), InferenceError> {
        let Some(classifier) = &self.orientation else {
            return Ok(());
        };
        for chunk in crops.chunks_mut(LINES_PER_PASS) {
            let lines: Vec<&RgbImage> = chunk.iter().collect();
            let width = recognize::ORIENTATION_WIDTH;
            let output = run(
                classifier,
                [lines.len(), 3, recognize::LINE_HEIGHT as usize, width as usize],
                &recognize::batch(&lines, width),
            )?;
            if output.values.len() != chunk.len() * 2 {
                return Err(InferenceError::onnx(format!(
                    "the orientation classifier answered shape {:?}",
                    output.shape
                )));
            }
            for (line, scores) in chunk.iter_mut().zip(output.values.chunks_exact(2)) {
                if scores[1] > scores[0] && scores[1] >= ORIENTATION_CONFIDENCE {
                    image::imageops::rotate180_in_place(line);
                }
            }
        }
        Ok(())
    }

    /// Each crop's text and confidence, in the crops' order. Crops of similar shape share a pass,
    /// so padding stays small.
    fn recognize(&self, crops: &[RgbImage]) -> Result<Vec<(String, f32)>, InferenceError> {
        let mut order: Vec<usize> = (0..crops.len()).collect();
        order.sort_by_key(|&i| recognize::scaled_width(&crops[i]));
        let mut read = vec![(String::new(), 0f32); crops.len()];
        for chunk in order.chunks(LINES_PER_PASS) {
            let lines: Vec<&RgbImage> = chunk.iter().map(|&i| &crops[i]).collect();
            let width = recognize::batch_width(&lines);
            let shape = [lines.len(), 3, recognize::LINE_HEIGHT as usize, width as usize];
            let output = run(&self.recognizer, shape, &recognize::batch(&lines, width))?;
            let &[count, steps, classes] = output.shape.as_slice() else {
                return Err(InferenceError::onnx(format!("the recogniser answered shape {:?}", output.shape)));
            };
            if count != lines.len()
                || classes != self.charset.classes()
                || output.values.len() != count * steps * classes
            {
                return Err(InferenceError::onnx(format!(
                    "the recogniser answered shape {:?} for a charset of {} classes",
                    output.shape,
                    self.charset.classes()
                )));
            }
            for (n, &i) in chunk.iter().enumerate() {
                let line = &output.values[n * steps * classes..(n + 1) * steps * classes];
                read[i] = recognize::ctc_decode(line, steps, classes, &self.charset);
            }
        }
        Ok(read)
    }
}

/// A session's first output.
struct Output {
    shape: Vec<usize>,
    values: Vec<f32>,
}

fn run(session: &Mutex<Session>, shape: [usize; 4], values: &[f32]) -> Result<Output, InferenceError> {
    let input = TensorRef::from_array_view((shape, values)).map_err(InferenceError::onnx)?;
    let mut session = session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let outputs = session.run(ort::inputs![input]).map_err(InferenceError::onnx)?;
    let (output_shape, values) = outputs[0].try_extract_tensor::<f32>().map_err(InferenceError::onnx)?;
    let shape: Vec<usize> = output_shape.iter().map(|&d| d.max(0) as usize).collect();
    Ok(Output { shape, values: values.to_vec() })
}

/// The rectangle cut out upright at full resolution.
fn crop(image: &RgbImage, quad: &Quad) -> RgbImage {
    let (width, height) = (quad.width().round().max(1.0) as u32, quad.height().round().max(1.0) as u32);
    let pixels = geometry::warp(
        image.as_raw(),
        image.width() as usize,
        image.height() as usize,
        quad,
        width as usize,
        height as usize,
    );
    RgbImage::from_raw(width, height, pixels).expect("warp returns width × height × 3 values")
}

/// Top to bottom; a line whose top is within half a line's height of a row's first line joins
/// that row, and each row reads left to right.
fn reading_order(mut quads: Vec<Quad>) -> Vec<(Quad, usize)> {
    let top = |q: &Quad| q.0[0].y.min(q.0[1].y);
    quads.sort_by(|a, b| top(a).total_cmp(&top(b)));
    let mut rows: Vec<Vec<Quad>> = Vec::new();
    for quad in quads {
        match rows.last_mut() {
            Some(row) if (top(&quad) - top(&row[0])).abs() < 0.5 * quad.height().min(row[0].height()) => row.push(quad),
            _ => rows.push(vec![quad]),
        }
    }
    rows.into_iter()
        .enumerate()
        .flat_map(|(index, mut row)| {
            row.sort_by(|a, b| a.0[0].x.total_cmp(&b.0[0].x));
            row.into_iter().map(move |quad| (quad, index))
        })
        .collect()
}

/// The OCR model as the registry serves it: at most `capacity` images in flight.
pub struct ServedOcr {
    pub manifest: Manifest,
    model: Arc<OcrModel>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl ServedOcr {
    pub fn new(manifest: Manifest, model: OcrModel, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { manifest, model: Arc::new(model), permits: Arc::new(Semaphore::new(capacity)), capacity }
    }

    /// Reads `image` on a blocking thread; refused at once when `capacity` images are in flight.
    pub async fn read(&self, image: Arc<RgbImage>) -> Result<OcrOutput, InferenceError> {
        let full = || InferenceError::QueueFull { model: self.manifest.id.clone(), capacity: self.capacity };
        let permit = Arc::clone(&self.permits).try_acquire_owned().map_err(|_| full())?;
        let model = Arc::clone(&self.model);
        let started = Instant::now();
        let output = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            model.read(&image)
        })
        .await
        .map_err(|_| InferenceError::WorkerStopped)?;
        let outcome = if output.is_ok() { "ok" } else { "error" };
        metrics::counter!("eiq_ocr_images_total", "outcome" => outcome).increment(1);
        metrics::histogram!("eiq_ocr_seconds").record(started.elapsed().as_secs_f64());
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(x: f32, y: f32, w: f32, h: f32) -> Quad {
        Quad([Point::new(x, y), Point::new(x + w, y), Point::new(x + w, y + h), Point::new(x, y + h)])
    }

    #[test]
    fn lines_read_top_to_bottom_and_left_to_right_within_a_row() {
        let quads =
            vec![line(300.0, 102.0, 100.0, 20.0), line(10.0, 10.0, 200.0, 20.0), line(10.0, 100.0, 200.0, 20.0)];
        let ordered = reading_order(quads);
        let tops: Vec<(f32, f32, usize)> = ordered.iter().map(|(q, row)| (q.0[0].x, q.0[0].y, *row)).collect();
        assert_eq!(tops, vec![(10.0, 10.0, 0), (10.0, 100.0, 1), (300.0, 102.0, 1)]);
    }
}
