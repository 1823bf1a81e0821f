//! Helpers for driving medrt the way clients do: over HTTP and WebSocket, against an
//! in-process app on an ephemeral port or against the real `medrt` binary.
//!
//! Each test gets fresh resources: a new SQLite file, or (when
//! `MEDRT_TEST_DATABASE_URL`, `MEDRT_TEST_NATS_URL`, `MEDRT_TEST_REDIS_URL` are set) a
//! new PostgreSQL database plus its own NATS subject prefix and Redis key prefix.
//! `TEST_LOG=1` shows the app's logs.

pub mod app;
pub mod backend;
pub mod client;
pub mod process;
pub mod ws;

pub use app::{TestApp, spawn_app};
pub use backend::{Services, TestBackend};
pub use client::ApiClient;
pub use process::NodeProcess;
pub use ws::WsClient;

use std::time::Duration;

/// How long any expected thing may take before a test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `check` until it returns `Some`, failing after `DEADLINE`. Never sleeps blindly.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
