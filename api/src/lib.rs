//! ElevatedIQ Content Intelligence: the `eiq` service and CLI.
//!
//! `rest` and `grpc` are thin protocol adapters over `service`, the capability layer; `error`
//! maps every failure to HTTP and gRPC status in one place; `server` puts both protocols on
//! one port.

pub mod cli;
pub mod config;
pub mod error;
pub mod grpc;
pub mod rest;
pub mod server;
pub mod service;
pub mod telemetry;
