//! The on-disk cache of fetched models, and verification of what is in it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Catalogue, CatalogueError, FileRef, FileRole, FileSpec, Manifest, Source};

/// A folder holding one sub-folder per fetched model version: `<root>/<id>/<version>/<files>`.
#[derive(Debug, Clone)]
pub struct ModelCache {
    root: PathBuf,
}

/// A model whose files (and borrowed tokenizer and runtime) all exist and match their pins.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub tokenizer: Option<PathBuf>,
    /// The classification heads, its own or borrowed.
    pub heads: Option<PathBuf>,
    /// The ONNX Runtime shared library, for `onnx` models.
    pub runtime_library: Option<PathBuf>,
    /// The model whose weights this one's overlay, when it names a `base`.
    pub base: Option<Box<ResolvedModel>>,
}

impl ResolvedModel {
    pub fn path(&self, role: FileRole) -> Option<PathBuf> {
        self.manifest.file(role).map(|f| self.dir.join(&f.path))
    }
}

impl ModelCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `<user cache dir>/eiq/models`, e.g. `~/.cache/eiq/models` on Linux.
    pub fn default_root() -> PathBuf {
        dirs::cache_dir().unwrap_or_else(|| PathBuf::from(".cache")).join("eiq").join("models")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the model's files live: the cache for registry sources, the folder itself for `dir`.
    pub fn model_dir(&self, manifest: &Manifest) -> PathBuf {
        match &manifest.source {
            Source::Pip { version, .. } | Source::Npm { version, .. } => self.root.join(&manifest.id).join(version),
            // Named by the first file's pin, so a changed recipe or retrained model gets a new folder.
            Source::Build { .. } | Source::Bundled => {
                self.root.join(&manifest.id).join(&manifest.files[0].sha256[..16])
            }
            Source::Dir { path } => PathBuf::from(path),
        }
    }

    /// True when every file is present (without hashing them: for listings).
    pub fn is_present(&self, manifest: &Manifest) -> bool {
        let dir = self.model_dir(manifest);
        manifest.files.iter().all(|f| dir.join(&f.path).is_file())
    }

    /// Hashes every file of `manifest` against its pin.
    pub fn verify(&self, manifest: &Manifest) -> Result<PathBuf, CatalogueError> {
        let dir = self.model_dir(manifest);
        verify_files(manifest, &dir)?;
        Ok(dir)
    }

    /// Verifies `id` and what it borrows, and says where each file is.
    pub fn resolve(&self, catalogue: &Catalogue, id: &str) -> Result<ResolvedModel, CatalogueError> {
        let manifest = catalogue.get(id)?;
        let dir = self.verify(manifest)?;
        let tokenizer = match &manifest.tokenizer {
            None => None,
            Some(reference) => Some(self.locate(catalogue, manifest, &dir, reference)?),
        };
        let heads = match (&manifest.heads, manifest.file(FileRole::Heads)) {
            (Some(reference), _) => Some(self.locate(catalogue, manifest, &dir, reference)?),
            (None, Some(own)) => Some(dir.join(&own.path)),
            (None, None) => None,
        };
        let runtime_library = match &manifest.runtime {
            None => None,
            Some(runtime) => {
                let runtime = catalogue.get(runtime)?;
                let library = runtime.file(FileRole::Library).ok_or_else(|| CatalogueError::InvalidManifest {
                    path: runtime.id.clone(),
                    reason: "a runtime needs a file with role = \"library\"".into(),
                })?;
                Some(self.verify_borrowed(runtime, &library.path)?)
            }
        };
        let base = match &manifest.base {
            Some(base) => Some(Box::new(self.resolve(catalogue, base)?)),
            None => None,
        };
        Ok(ResolvedModel { manifest: manifest.clone(), dir, tokenizer, heads, runtime_library, base })
    }

    /// Where a referenced file is: in `dir`, or verified in the model it is borrowed from. Of
    /// another entry only the borrowed file is checked: a tokenizer does not need its owner's
    /// weights hashed again.
    fn locate(
        &self,
        catalogue: &Catalogue,
        manifest: &Manifest,
        dir: &Path,
        reference: &FileRef,
    ) -> Result<PathBuf, CatalogueError> {
        match reference.model.as_deref() {
            Some(owner) if owner != manifest.id => self.verify_borrowed(catalogue.get(owner)?, &reference.file),
            _ => Ok(dir.join(&reference.file)),
        }
    }

    /// Verifies the one file `path` of `owner` and returns where it is.
    fn verify_borrowed(&self, owner: &Manifest, path: &str) -> Result<PathBuf, CatalogueError> {
        let file = owner.files.iter().find(|f| f.path == path).ok_or_else(|| CatalogueError::InvalidManifest {
            path: owner.id.clone(),
            reason: format!("`{path}` is not among its pinned files"),
        })?;
        verify_file(owner, file, &self.model_dir(owner))
    }
}

/// Checks each file under `dir` against the manifest's sha256.
pub(crate) fn verify_files(manifest: &Manifest, dir: &Path) -> Result<(), CatalogueError> {
    manifest.files.iter().try_for_each(|file| verify_file(manifest, file, dir).map(drop))
}

/// Checks one file under `dir` against its pin and returns its path.
fn verify_file(manifest: &Manifest, file: &FileSpec, dir: &Path) -> Result<PathBuf, CatalogueError> {
    let path = dir.join(&file.path);
    if !path.is_file() {
        return Err(CatalogueError::MissingFile {
            model: manifest.id.clone(),
            file: file.path.clone(),
            path,
            fix: fix_hint(manifest, false),
        });
    }
    let actual = sha256_file(&path).map_err(CatalogueError::io(format!("hashing {}", path.display())))?;
    if !actual.eq_ignore_ascii_case(&file.sha256) {
        return Err(CatalogueError::Corrupt {
            model: manifest.id.clone(),
            file: file.path.clone(),
            expected: file.sha256.clone(),
            actual,
            fix: fix_hint(manifest, true),
        });
    }
    Ok(path)
}

fn fix_hint(manifest: &Manifest, corrupt: bool) -> String {
    match &manifest.source {
        Source::Dir { path } => format!("put the pinned file into {path} or correct the manifest"),
        _ if corrupt => format!("run `eiq models fetch {} --force`", manifest.id),
        _ => format!("run `eiq models fetch {}`", manifest.id),
    }
}

/// Lower-case hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn dir_manifest(dir: &Path, sha256: &str) -> Manifest {
        let text = crate::manifest::fixtures::dir_runtime(&dir.display().to_string(), "lib/empty.so", sha256);
        Manifest::parse(&text, "test").unwrap()
    }

    #[test]
    fn verifies_a_dir_source_in_place() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/empty.so"), b"").unwrap();
        let cache = ModelCache::new(dir.path().join("cache"));
        assert_eq!(cache.verify(&dir_manifest(dir.path(), EMPTY_SHA256)).unwrap(), dir.path());
    }

    #[test]
    fn a_missing_or_altered_file_names_model_file_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::new(dir.path().join("cache"));
        let manifest = dir_manifest(dir.path(), EMPTY_SHA256);
        let missing = cache.verify(&manifest).unwrap_err().to_string();
        assert!(
            missing.contains("`local`") && missing.contains("lib/empty.so") && missing.contains("is missing"),
            "{missing}"
        );

        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/empty.so"), b"tampered").unwrap();
        let corrupt = cache.verify(&manifest).unwrap_err().to_string();
        assert!(corrupt.contains(EMPTY_SHA256) && corrupt.contains("correct the manifest"), "{corrupt}");
    }
}
