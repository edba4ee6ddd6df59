//! ElevatedIQ Content Intelligence: the `eiq` service and CLI.
//!
//! `rest` and `grpc` are thin protocol adapters over `eiq-service` (`api/service/`), the
//! capability layer; `principal` authenticates every call and builds who it acts for, once for
//! both protocols, against `access`, the one table of what each operation needs; `error`
//! maps every failure to HTTP and gRPC status in one place; `server` puts both protocols on
//! one port, `connections` bounds how long a client may hold one, and `request_body` how long
//! it may take to send a request.

pub mod access;
pub mod cli;
pub mod config;
mod connections;
pub mod error;
pub mod grpc;
pub mod principal;
mod request_body;
pub mod rest;
pub mod server;
mod streaming;
pub mod telemetry;
