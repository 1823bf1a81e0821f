//! An embedded node for the actor-layer tests and benchmarks: a migrated database and
//! the actor tree with the in-process bus and in-memory cache.

use std::sync::Arc;
use std::time::Duration;

use medrt_actors::bus::MemoryBus;
use medrt_actors::cache::MemoryCache;
use medrt_actors::distribution::SettlementSettings;
use medrt_actors::ledger::CommitSettings;
use medrt_actors::platform::Platform;
use medrt_actors::relay::RelaySettings;
use medrt_actors::root::RootArgs;
use medrt_actors::session::SessionLimits;
use medrt_actors::store::{DatabaseSettings, Store};

/// A SQLite file of its own in a temporary folder, deleted with this value.
pub struct SqliteFile {
    pub url: String,
    _dir: tempfile::TempDir,
}

pub fn sqlite_file(tag: &str) -> SqliteFile {
    let dir = tempfile::Builder::new()
        .prefix(&format!("medrt-{tag}-"))
        .tempdir()
        .expect("temporary folder");
    SqliteFile {
        url: format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("ledger.db").display()
        ),
        _dir: dir,
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

/// Batches of up to `batch_max`, with the default commit delay.
#[allow(dead_code)] // Not every test program that shares this module starts a node.
pub fn batches_of(batch_max: usize) -> CommitSettings {
    CommitSettings {
        batch_max,
        commit_delay: Duration::from_micros(1000),
    }
}

/// Starts the actor tree on `store`.
#[allow(dead_code)] // Not every test program that shares this module starts a node.
pub async fn start_node(store: &Store, ledger: CommitSettings) -> Platform {
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
        ledger,
        settlement: SettlementSettings {
            interval_secs: 3600,
            batch: 10_000,
            workers: 1,
        },
    })
    .await
    .expect("platform starts")
}
