//! The edge of medrt: HTTP, WebSocket, authentication and the `medrt` binary. The only
//! crate that knows wire formats.
//!
//! # Layout
//! - [`app`]: `Application`, building and serving one node.
//! - [`settings`]: layered configuration.
//! - [`routes`]: `/api/v1` handlers; [`ws`]: `/ws` sessions.
//! - [`auth`]: passwords, tokens, the bearer extractor, the login limiter.
//! - [`error`]: `ApiError`, the single mapping to the contract's error body.
//! - [`http_metrics`], [`telemetry`], [`openapi`]: observability and the API document.

pub mod app;
pub mod auth;
pub mod error;
mod extract;
pub mod http_metrics;
pub mod openapi;
mod qr;
pub mod routes;
pub mod settings;
pub mod state;
pub mod telemetry;
pub mod ws;

pub use app::{Application, BootstrapAdmin};
pub use settings::Settings;
