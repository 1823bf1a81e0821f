//! Failed sign-ins are limited per username and client address, through the cache, so
//! the limit holds across nodes.

use std::net::IpAddr;
use std::time::Duration;

use medrt_actors::cache::{Cache, CacheError};
use medrt_domain::account::Username;

pub struct LoginLimiter {
    failures_max: u64,
    window: Duration,
}

impl LoginLimiter {
    pub fn new(failures_max: u64, window: Duration) -> Self {
        Self {
            failures_max,
            window,
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    fn key(username: &Username, client: IpAddr) -> String {
        format!("login:{}:{client}", username.as_str())
    }

    /// Whether this username/client pair has used up its failures for now.
    pub async fn blocked(
        &self,
        cache: &dyn Cache,
        username: &Username,
        client: IpAddr,
    ) -> Result<bool, CacheError> {
        Ok(cache.hits(&Self::key(username, client)).await? >= self.failures_max)
    }

    pub async fn record_failure(
        &self,
        cache: &dyn Cache,
        username: &Username,
        client: IpAddr,
    ) -> Result<(), CacheError> {
        cache
            .hit(&Self::key(username, client), self.window)
            .await
            .map(|_| ())
    }
}
