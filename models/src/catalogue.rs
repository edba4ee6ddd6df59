//! The set of known models: the manifests committed with the code, plus any a user adds.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{CatalogueError, Manifest};

/// Manifests compiled into the binary, so `eiq` needs no checkout to know its models.
const BUILTIN: &[(&str, &str)] = &[
    ("minilm-l6-v2.toml", include_str!("../catalogue/minilm-l6-v2.toml")),
    ("minilm-l6-v2-int8.toml", include_str!("../catalogue/minilm-l6-v2-int8.toml")),
    ("minilm-l6-v2-onnx.toml", include_str!("../catalogue/minilm-l6-v2-onnx.toml")),
    ("minilm-l6-v2-onnx-int8.toml", include_str!("../catalogue/minilm-l6-v2-onnx-int8.toml")),
    ("profanity-wordlist.toml", include_str!("../catalogue/profanity-wordlist.toml")),
    ("onnxruntime.toml", include_str!("../catalogue/onnxruntime.toml")),
    ("tweet-minilm-l6-v1.toml", include_str!("../catalogue/tweet-minilm-l6-v1.toml")),
    ("tweet-minilm-l6-v1-onnx.toml", include_str!("../catalogue/tweet-minilm-l6-v1-onnx.toml")),
    ("tweet-minilm-l6-v1-int8.toml", include_str!("../catalogue/tweet-minilm-l6-v1-int8.toml")),
    ("smollm2-135m-instruct.toml", include_str!("../catalogue/smollm2-135m-instruct.toml")),
    ("ppocr-v4.toml", include_str!("../catalogue/ppocr-v4.toml")),
    ("wordsegment.toml", include_str!("../catalogue/wordsegment.toml")),
];

#[derive(Debug, Clone)]
pub struct Catalogue {
    manifests: BTreeMap<String, Manifest>,
}

impl Catalogue {
    pub fn builtin() -> Result<Self, CatalogueError> {
        let mut manifests = BTreeMap::new();
        for (name, text) in BUILTIN {
            let manifest = Manifest::parse(text, &format!("models/catalogue/{name}"))?;
            manifests.insert(manifest.id.clone(), manifest);
        }
        let catalogue = Self { manifests };
        catalogue.check_references()?;
        Ok(catalogue)
    }

    /// The built-in catalogue with every `*.toml` of `dir` added; a manifest with a built-in id
    /// replaces it (for example to read the pinned files from a local folder).
    pub fn with_extra_dir(dir: &Path) -> Result<Self, CatalogueError> {
        let entries = std::fs::read_dir(dir).map_err(CatalogueError::io(format!("reading {}", dir.display())))?;
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.retain(|p| p.extension().is_some_and(|ext| ext == "toml"));
        paths.sort();
        let manifests = paths
            .iter()
            .map(|path| {
                let text =
                    std::fs::read_to_string(path).map_err(CatalogueError::io(format!("reading {}", path.display())))?;
                Manifest::parse(&text, &path.display().to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::builtin()?.with_manifests(manifests)
    }

    /// This catalogue with `manifests` added; one with a known id replaces the known one.
    pub fn with_manifests(mut self, manifests: impl IntoIterator<Item = Manifest>) -> Result<Self, CatalogueError> {
        for manifest in manifests {
            if self.manifests.contains_key(&manifest.id) {
                tracing::info!(id = %manifest.id, "manifest replaces the built-in one");
            }
            self.manifests.insert(manifest.id.clone(), manifest);
        }
        self.check_references()?;
        Ok(self)
    }

    pub fn get(&self, id: &str) -> Result<&Manifest, CatalogueError> {
        self.manifests.get(id).ok_or_else(|| CatalogueError::UnknownModel {
            id: id.to_string(),
            known: self.manifests.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Manifest> {
        self.manifests.values()
    }

    /// `id` and everything it needs to load, dependencies first, each once.
    pub fn with_dependencies(&self, id: &str) -> Result<Vec<&Manifest>, CatalogueError> {
        let manifest = self.get(id)?;
        let mut ordered: Vec<&Manifest> = Vec::new();
        for dependency in manifest.dependencies() {
            for m in self.with_dependencies(dependency)? {
                if !ordered.iter().any(|o| o.id == m.id) {
                    ordered.push(m);
                }
            }
        }
        if !ordered.iter().any(|o| o.id == manifest.id) {
            ordered.push(manifest);
        }
        Ok(ordered)
    }

    fn check_references(&self) -> Result<(), CatalogueError> {
        for manifest in self.manifests.values() {
            for dependency in manifest.dependencies() {
                if !self.manifests.contains_key(dependency) {
                    return Err(CatalogueError::InvalidManifest {
                        path: manifest.id.clone(),
                        reason: format!("refers to `{dependency}`, which is not in the catalogue"),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_orders_dependencies_first() {
        let catalogue = Catalogue::builtin().unwrap();
        let ids: Vec<_> =
            catalogue.with_dependencies("minilm-l6-v2-int8").unwrap().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["minilm-l6-v2", "onnxruntime", "minilm-l6-v2-int8"]);
    }

    #[test]
    fn unknown_model_lists_the_known_ones() {
        let err = Catalogue::builtin().unwrap().get("gpt-9").unwrap_err().to_string();
        assert!(err.contains("gpt-9") && err.contains("minilm-l6-v2"), "{err}");
    }
}
