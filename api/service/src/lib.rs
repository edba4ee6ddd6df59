//! ElevatedIQ's capabilities, independent of any protocol.
//!
//! REST (axum), gRPC (tonic) and the CLI parse their own wire formats, build a
//! [`tenancy::Principal`] at their edge, call a service here, and render the result; validation,
//! model selection, limits and metrics happen once, in this crate, which depends on no protocol
//! crate. Failures are a typed [`ServiceError`] that each edge maps to its own status codes and
//! words. Services are grouped by capability (`text`, `engagement`, `posts`, `captions`) and listed once in
//! [`Services`].

pub mod access;
pub mod audit;
pub mod auth;
pub mod captions;
pub mod engagement;
mod error;
pub mod hashtags;
pub mod images;
pub mod index;
pub mod limits;
pub mod posts;
pub mod publishing;
pub mod retention;
mod services;
pub mod tenancy;
pub mod tenants;
pub mod text;
pub mod usage;
pub mod vectors;

pub use error::{Hint, Resource, ServiceError};
pub use services::{Services, ServicesConfig, VectorSettings, open_store};
