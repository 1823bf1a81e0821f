//! Model serving building blocks: which execution provider runs a model, and when a
//! batcher dispatches the requests it holds. Knows nothing of users, points or tasks.
//!
//! # Layout
//! - [`provider`]: execution providers and the fallback rule.
//! - [`batching`]: the dynamic batching policy.

pub mod batching;
pub mod provider;
