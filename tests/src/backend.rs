//! Fresh, isolated backing services for one test (or one group of nodes).

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

/// Where one test's nodes keep their state. Nodes built from the same backend share it.
#[derive(Clone, Debug)]
pub struct TestBackend {
    pub database_url: String,
    pub bus_url: String,
    pub cache_url: String,
    /// NATS subject prefix and Redis key prefix, unique to this backend.
    pub prefix: String,
    pub storage_dir: PathBuf,
    /// Whether PostgreSQL, NATS and Redis are in use (else SQLite and in-process).
    pub services: bool,
}

impl TestBackend {
    /// Real services when the `MEDRT_TEST_*` variables are set, embedded ones otherwise.
    pub async fn new() -> Self {
        let id = Uuid::new_v4().simple().to_string();
        let prefix = format!("medrt_t{}", &id[..12]);
        let dir = std::env::temp_dir().join(format!("medrt-test-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let storage_dir = dir.join("storage");
        match std::env::var("MEDRT_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let database_url = fresh_postgres_database(&admin_url, &prefix).await;
                Self {
                    database_url,
                    bus_url: std::env::var("MEDRT_TEST_NATS_URL")
                        .expect("MEDRT_TEST_NATS_URL with MEDRT_TEST_DATABASE_URL"),
                    cache_url: std::env::var("MEDRT_TEST_REDIS_URL")
                        .expect("MEDRT_TEST_REDIS_URL with MEDRT_TEST_DATABASE_URL"),
                    prefix,
                    storage_dir,
                    services: true,
                }
            }
            _ => Self {
                database_url: format!("sqlite://{}?mode=rwc", dir.join("medrt.db").display()),
                bus_url: String::new(),
                cache_url: String::new(),
                prefix,
                storage_dir,
                services: false,
            },
        }
    }

    /// Settings overrides (figment keys) that point a node at this backend.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        vec![
            ("database.url", self.database_url.clone()),
            ("bus.url", self.bus_url.clone()),
            ("bus.prefix", self.prefix.clone()),
            ("cache.url", self.cache_url.clone()),
            ("cache.prefix", self.prefix.clone()),
            ("storage.dir", self.storage_dir.display().to_string()),
        ]
    }
}

async fn fresh_postgres_database(admin_url: &str, name: &str) -> String {
    let admin = Database::connect(admin_url)
        .await
        .expect("connect to MEDRT_TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    admin.close().await.ok();
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
    format!("{root}/{name}{query}")
}
