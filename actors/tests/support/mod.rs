//! An embedded node for the actor-layer tests and benchmarks: a migrated database and
//! the actor tree with the in-process bus and in-memory cache.

use std::sync::Arc;
use std::time::Duration;

use medrt_actors::bus::MemoryBus;
use medrt_actors::cache::MemoryCache;
use medrt_actors::distribution::SettlementSettings;
use medrt_actors::platform::Platform;
use medrt_actors::relay::RelaySettings;
use medrt_actors::root::RootArgs;
use medrt_actors::session::SessionLimits;
use medrt_actors::store::{DatabaseSettings, Store};

/// A SQLite file of its own under the temporary directory.
pub fn sqlite_url(tag: &str) -> String {
    let dir = std::env::temp_dir().join(format!("medrt-{tag}-{}", uuid::Uuid::new_v4().simple()));
    format!("sqlite://{}?mode=rwc", dir.join("ledger.db").display())
}

/// Deletes the folder `sqlite_url` made, once nothing has the database open.
pub fn remove_sqlite(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default();
    if let Some(dir) = std::path::Path::new(path).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Connects (a fresh pool each time, as after a restart) and migrates.
pub async fn open_store(url: &str) -> Store {
    let settings = DatabaseSettings {
        max_connections: 32,
        acquire_timeout_ms: 30_000,
        sqlite_busy_timeout_ms: 30_000,
        ..DatabaseSettings::with_url(url)
    };
    let store = Store::connect(&settings).await.expect("database");
    store.migrate().await.expect("migrations");
    store
}

/// Starts the actor tree on `store`.
pub async fn start_node(store: &Store, ledger_batch_max: usize) -> Platform {
    Platform::start(RootArgs {
        node_id: "embedded".into(),
        store: store.clone(),
        bus: Arc::new(MemoryBus::new(1 << 16)),
        cache: Arc::new(MemoryCache::default()),
        limits: SessionLimits {
            topics_max: 8,
            replay_max: 10,
        },
        sessions_per_user_max: 4,
        presence_ttl: Duration::from_secs(30),
        relay: RelaySettings {
            enabled: true,
            batch_max: 1024,
            poll_interval_ms: 1000,
            retention_secs: 3600,
            prune_interval_secs: 3600,
        },
        ledger_batch_max,
        settlement: SettlementSettings {
            interval_secs: 3600,
            batch: 10_000,
            workers: 1,
        },
    })
    .await
    .expect("platform starts")
}
