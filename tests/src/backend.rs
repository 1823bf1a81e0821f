//! Fresh, isolated backing services for one test (or one group of nodes).

use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;
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
    /// Removes the temporary directory when the last clone goes.
    _dir: Arc<TempDir>,
}

/// Where the real services run.
#[derive(Clone, Debug)]
pub struct Services {
    /// A PostgreSQL URL allowed to create databases.
    pub database_admin_url: String,
    pub nats_url: String,
    pub redis_url: String,
}

impl Services {
    /// `MEDRT_TEST_DATABASE_URL`, `MEDRT_TEST_NATS_URL` and `MEDRT_TEST_REDIS_URL`, when
    /// the first is set (the others must be too).
    pub fn from_env() -> Option<Self> {
        let admin = std::env::var("MEDRT_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        Some(Self {
            database_admin_url: admin,
            nats_url: std::env::var("MEDRT_TEST_NATS_URL")
                .expect("MEDRT_TEST_NATS_URL with MEDRT_TEST_DATABASE_URL"),
            redis_url: std::env::var("MEDRT_TEST_REDIS_URL")
                .expect("MEDRT_TEST_REDIS_URL with MEDRT_TEST_DATABASE_URL"),
        })
    }
}

/// A unique prefix and a fresh temporary directory.
fn fresh_place() -> (String, Arc<TempDir>) {
    let id = Uuid::new_v4().simple().to_string();
    let dir = tempfile::Builder::new()
        .prefix(&format!("medrt-test-{id}"))
        .tempdir()
        .expect("temp dir");
    (format!("medrt_t{}", &id[..12]), Arc::new(dir))
}

impl TestBackend {
    /// Real services when the `MEDRT_TEST_*` variables are set, embedded ones otherwise.
    pub async fn new() -> Self {
        match Services::from_env() {
            Some(services) => Self::on_services(&services).await,
            None => Self::embedded(),
        }
    }

    /// A fresh SQLite file, the in-process bus and the in-memory cache.
    pub fn embedded() -> Self {
        let (prefix, dir) = fresh_place();
        Self {
            database_url: format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("medrt.db").display()
            ),
            bus_url: String::new(),
            cache_url: String::new(),
            prefix,
            storage_dir: dir.path().join("storage"),
            services: false,
            _dir: dir,
        }
    }

    /// A fresh PostgreSQL database and fresh NATS/Redis prefixes on `services`.
    pub async fn on_services(services: &Services) -> Self {
        let (prefix, dir) = fresh_place();
        Self {
            database_url: fresh_postgres_database(&services.database_admin_url, &prefix).await,
            bus_url: services.nats_url.clone(),
            cache_url: services.redis_url.clone(),
            prefix,
            storage_dir: dir.path().join("storage"),
            services: true,
            _dir: dir,
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
