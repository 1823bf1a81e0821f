//! The shared cache: presence (which nodes hold a user's sessions), node liveness and
//! rate-limit windows. In-memory for one node, Redis for many.

mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use medrt_domain::ids::UserId;
use serde::Deserialize;

pub use memory::MemoryCache;
pub use redis::RedisCache;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot connect to the cache at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cache command failed: {0}")]
    Command(String),
}

#[derive(Clone, Debug, Deserialize)]
pub struct CacheSettings {
    /// Empty for in-memory, `redis://host:6379` for Redis.
    pub url: String,
    /// Key prefix, so deployments (and tests) can share one Redis.
    pub prefix: String,
}

#[async_trait::async_trait]
pub trait Cache: Send + Sync {
    /// Counts one hit in the fixed window `key` (which starts at its first hit) and
    /// returns the hits so far.
    async fn hit(&self, key: &str, window: Duration) -> Result<u64, CacheError>;
    /// Hits so far in the window `key`, without counting one.
    async fn hits(&self, key: &str) -> Result<u64, CacheError>;
    /// Records that `node` now holds at least one session of `user`.
    async fn presence_join(&self, user: UserId, node: &str) -> Result<(), CacheError>;
    /// Records that `node` holds no more sessions of `user`.
    async fn presence_leave(&self, user: UserId, node: &str) -> Result<(), CacheError>;
    /// Live nodes holding sessions of `user`.
    async fn presence(&self, user: UserId) -> Result<Vec<String>, CacheError>;
    /// Keeps `node` counted as alive for `ttl`; a crashed node's presence then expires.
    async fn node_alive(&self, node: &str, ttl: Duration) -> Result<(), CacheError>;
    async fn ping(&self) -> Result<(), CacheError>;
    fn kind(&self) -> &'static str;
}

pub async fn connect(settings: &CacheSettings) -> Result<Arc<dyn Cache>, CacheError> {
    if settings.url.trim().is_empty() {
        Ok(Arc::new(MemoryCache::default()))
    } else {
        Ok(Arc::new(
            RedisCache::connect(&settings.url, &settings.prefix).await?,
        ))
    }
}
