//! In-memory cache for a single node. A plain map under a short lock: it is a cache
//! with Redis semantics, not a registry of live things.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use medrt_domain::ids::UserId;

use super::{Cache, CacheError};

#[derive(Default)]
pub struct MemoryCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    windows: HashMap<String, (u64, Instant)>,
    presence: HashMap<UserId, HashSet<String>>,
    nodes: HashMap<String, Instant>,
}

impl Inner {
    fn live_window(&mut self, key: &str, now: Instant) -> Option<&mut (u64, Instant)> {
        if self
            .windows
            .get(key)
            .is_some_and(|(_, until)| *until <= now)
        {
            self.windows.remove(key);
        }
        self.windows.get_mut(key)
    }
}

#[async_trait::async_trait]
impl Cache for MemoryCache {
    async fn hit(&self, key: &str, window: Duration) -> Result<u64, CacheError> {
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("cache lock");
        if let Some((hits, _)) = inner.live_window(key, now) {
            *hits += 1;
            return Ok(*hits);
        }
        inner.windows.insert(key.to_owned(), (1, now + window));
        Ok(1)
    }

    async fn hits(&self, key: &str) -> Result<u64, CacheError> {
        let mut inner = self.inner.lock().expect("cache lock");
        Ok(inner
            .live_window(key, Instant::now())
            .map_or(0, |(hits, _)| *hits))
    }

    async fn presence_join(&self, user: UserId, node: &str) -> Result<(), CacheError> {
        let mut inner = self.inner.lock().expect("cache lock");
        inner
            .presence
            .entry(user)
            .or_default()
            .insert(node.to_owned());
        Ok(())
    }

    async fn presence_leave(&self, user: UserId, node: &str) -> Result<(), CacheError> {
        let mut inner = self.inner.lock().expect("cache lock");
        if let Some(nodes) = inner.presence.get_mut(&user) {
            nodes.remove(node);
            if nodes.is_empty() {
                inner.presence.remove(&user);
            }
        }
        Ok(())
    }

    async fn presence(&self, user: UserId) -> Result<Vec<String>, CacheError> {
        let inner = self.inner.lock().expect("cache lock");
        let now = Instant::now();
        let alive = |n: &String| inner.nodes.get(n).is_some_and(|until| *until > now);
        let mut nodes: Vec<String> = inner
            .presence
            .get(&user)
            .map(|s| s.iter().filter(|n| alive(n)).cloned().collect())
            .unwrap_or_default();
        nodes.sort();
        Ok(nodes)
    }

    async fn node_alive(&self, node: &str, ttl: Duration) -> Result<(), CacheError> {
        let mut inner = self.inner.lock().expect("cache lock");
        inner.nodes.insert(node.to_owned(), Instant::now() + ttl);
        Ok(())
    }

    async fn ping(&self) -> Result<(), CacheError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_count_and_expire() {
        let cache = MemoryCache::default();
        assert_eq!(cache.hits("k").await.unwrap(), 0);
        assert_eq!(cache.hit("k", Duration::from_millis(30)).await.unwrap(), 1);
        assert_eq!(cache.hit("k", Duration::from_millis(30)).await.unwrap(), 2);
        assert_eq!(cache.hits("k").await.unwrap(), 2);
        let deadline = Instant::now() + Duration::from_secs(2);
        while cache.hits("k").await.unwrap() != 0 {
            assert!(Instant::now() < deadline, "window never expired");
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.hit("k", Duration::from_secs(1)).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn presence_lists_only_live_nodes() {
        let cache = MemoryCache::default();
        let user = UserId::generate();
        cache
            .node_alive("a", Duration::from_secs(60))
            .await
            .unwrap();
        cache.presence_join(user, "a").await.unwrap();
        cache.presence_join(user, "dead").await.unwrap();
        assert_eq!(cache.presence(user).await.unwrap(), vec!["a".to_owned()]);
        cache.presence_leave(user, "a").await.unwrap();
        assert!(cache.presence(user).await.unwrap().is_empty());
    }
}
