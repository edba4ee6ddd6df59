//! Models trained here and committed with the code (`models/bundled/<id>/`), compiled into the
//! binary so the service has them without any download.

/// `(model id, file path, bytes)`.
const BUNDLED: &[(&str, &str, &[u8])] = &[
    (
        "tweet-minilm-l6-v1",
        "encoder-top.safetensors",
        include_bytes!("../bundled/tweet-minilm-l6-v1/encoder-top.safetensors"),
    ),
    ("tweet-minilm-l6-v1", "heads.json", include_bytes!("../bundled/tweet-minilm-l6-v1/heads.json")),
    ("tweet-minilm-l6-v1", "heads-int8.json", include_bytes!("../bundled/tweet-minilm-l6-v1/heads-int8.json")),
];

/// The bytes of `path` of the bundled model `id`.
pub fn file(id: &str, path: &str) -> Option<&'static [u8]> {
    BUNDLED.iter().find(|(i, p, _)| *i == id && *p == path).map(|(_, _, bytes)| *bytes)
}
