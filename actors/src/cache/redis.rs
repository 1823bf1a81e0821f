//! Redis cache through fred. Every key carries the configured prefix.

use std::time::Duration;

use fred::prelude::*;
use fred::types::ExpireOptions;
use medrt_domain::ids::UserId;

use super::{Cache, CacheError};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisCache {
    pool: Pool,
    prefix: String,
}

impl RedisCache {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let connect_err = |e: &dyn std::fmt::Display| CacheError::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let config = Config::from_url(url).map_err(|e| connect_err(&e))?;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.internal_command_timeout = COMMAND_TIMEOUT;
            })
            .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build_pool(2)
            .map_err(|e| connect_err(&e))?;
        pool.init().await.map_err(|e| connect_err(&e))?;
        Ok(Self {
            pool,
            prefix: prefix.trim_end_matches(':').to_owned(),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }
}

fn command_err(e: fred::error::Error) -> CacheError {
    CacheError::Command(e.to_string())
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    async fn hit(&self, key: &str, window: Duration) -> Result<u64, CacheError> {
        let key = self.key(&["rl", key]);
        // One round trip; EXPIRE NX starts the window at the first hit only.
        let pipeline = self.pool.next().pipeline();
        let _: () = pipeline.incr(&key).await.map_err(command_err)?;
        let _: () = pipeline
            .expire(
                &key,
                window.as_secs().max(1) as i64,
                Some(ExpireOptions::NX),
            )
            .await
            .map_err(command_err)?;
        let (hits, _): (u64, i64) = pipeline.all().await.map_err(command_err)?;
        Ok(hits)
    }

    async fn hits(&self, key: &str) -> Result<u64, CacheError> {
        let hits: Option<u64> = self
            .pool
            .get(self.key(&["rl", key]))
            .await
            .map_err(command_err)?;
        Ok(hits.unwrap_or(0))
    }

    async fn presence_join(&self, user: UserId, node: &str) -> Result<(), CacheError> {
        let _: i64 = self
            .pool
            .sadd(self.key(&["presence", &user.to_string()]), node)
            .await
            .map_err(command_err)?;
        Ok(())
    }

    async fn presence_leave(&self, user: UserId, node: &str) -> Result<(), CacheError> {
        let _: i64 = self
            .pool
            .srem(self.key(&["presence", &user.to_string()]), node)
            .await
            .map_err(command_err)?;
        Ok(())
    }

    async fn presence(&self, user: UserId) -> Result<Vec<String>, CacheError> {
        let mut nodes: Vec<String> = self
            .pool
            .smembers(self.key(&["presence", &user.to_string()]))
            .await
            .map_err(command_err)?;
        let mut alive = Vec::with_capacity(nodes.len());
        nodes.sort();
        for node in nodes {
            let exists: i64 = self
                .pool
                .exists(self.key(&["node", &node]))
                .await
                .map_err(command_err)?;
            if exists > 0 {
                alive.push(node);
            }
        }
        Ok(alive)
    }

    async fn node_alive(&self, node: &str, ttl: Duration) -> Result<(), CacheError> {
        let ttl = Expiration::PX(ttl.as_millis().max(1) as i64);
        let _: () = self
            .pool
            .set(self.key(&["node", node]), 1, Some(ttl), None, false)
            .await
            .map_err(command_err)?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        let _: String = self.pool.next().ping(None).await.map_err(command_err)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}
