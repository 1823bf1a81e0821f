use serde::Deserialize;

/// Where the database is and how the pool behaves.
#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://data/medrt.db?mode=rwc` or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    pub connect_timeout_ms: u64,
    pub acquire_timeout_ms: u64,
    pub sqlite_busy_timeout_ms: u64,
}

impl DatabaseSettings {
    /// `url` with the pool settings `config/default.toml` ships.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            connect_timeout_ms: 5000,
            acquire_timeout_ms: 5000,
            sqlite_busy_timeout_ms: 5000,
        }
    }
}
