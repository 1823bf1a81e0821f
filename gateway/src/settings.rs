//! Settings in layers: `config/default.toml`, then `config/<MEDRT_ENV>.toml`, then
//! `MEDRT__SECTION__KEY` environment variables. Parsed once at start-up; a bad value
//! stops the process with a one-line reason.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use medrt_actors::bus::BusSettings;
use medrt_actors::cache::CacheSettings;
use medrt_actors::distribution::SettlementSettings;
use medrt_actors::relay::RelaySettings;
use medrt_actors::store::DatabaseSettings;
use medrt_inference::InferenceSettings;
use serde::Deserialize;

/// The secret shipped in `config/default.toml`, refused in production.
pub const DEV_JWT_SECRET: &str = "dev-only-secret-change-me-in-production";

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSection,
    pub bus: BusSettings,
    pub cache: CacheSettings,
    pub storage: StorageSettings,
    pub auth: AuthSettings,
    pub ws: WsSettings,
    pub outbox: RelaySettings,
    pub ledger: LedgerSettings,
    pub inference: InferenceSettings,
    pub distribution: DistributionSettings,
    pub node: NodeSettings,
    pub log: LogSettings,
    pub testing: TestingSettings,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub request_timeout_ms: u64,
    pub body_limit_bytes: usize,
    pub shutdown_grace_ms: u64,
    /// Behind a trusted load balancer, take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSection {
    #[serde(flatten)]
    pub pool: DatabaseSettings,
    pub migrate_on_start: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct StorageSettings {
    pub dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: Secret,
    pub token_ttl_secs: u64,
    pub login_failures_max: u64,
    pub login_failure_window_secs: u64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WsSettings {
    pub send_queue_max: usize,
    pub frame_max_bytes: usize,
    pub heartbeat_interval_ms: u64,
    pub heartbeat_timeout_ms: u64,
    pub write_timeout_ms: u64,
    pub sessions_per_user_max: usize,
    pub topics_max: usize,
    pub replay_max: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LedgerSettings {
    /// Most transfers committed in one database transaction.
    pub batch_max: usize,
    /// Longest a free writer waits for a batch as large as the last (see the committer).
    pub commit_delay_us: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DistributionSettings {
    /// Referral links are this followed by the code.
    pub link_base: String,
    /// When and how commissions past their window are settled.
    pub settlement: SettlementSettings,
}

#[derive(Clone, Debug, Deserialize)]
pub struct NodeSettings {
    /// Empty: derived from the host name and process id.
    pub id: String,
    pub presence_ttl_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub filter: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
pub struct TestingSettings {
    /// Accept `fault.panic` frames that crash a session, to exercise supervision.
    pub fault_injection: bool,
}

/// A value that must never reach a log.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0}")]
    Invalid(String),
    #[error("refusing to start in production: {0}")]
    Unsafe(&'static str),
}

impl Settings {
    /// Loads settings for `env` from `dir`, with environment variables on top.
    pub fn load(dir: &Path, env: &str) -> Result<Self, SettingsError> {
        let settings: Settings = Self::figment(dir, env)
            .merge(Env::prefixed("MEDRT__").split("__"))
            .extract()
            .map_err(|e| SettingsError::Invalid(e.to_string().replace('\n', " ")))?;
        settings.check(env)?;
        Ok(settings)
    }

    /// The file layers only, without the process environment (tests build on this).
    pub fn figment(dir: &Path, env: &str) -> Figment {
        Figment::new()
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(dir.join(format!("{env}.toml"))))
    }

    pub fn check(&self, env: &str) -> Result<(), SettingsError> {
        if env == "production" {
            if self.auth.jwt_secret.expose() == DEV_JWT_SECRET
                || self.auth.jwt_secret.expose().len() < 32
            {
                return Err(SettingsError::Unsafe(
                    "set MEDRT__AUTH__JWT_SECRET to a secret of at least 32 characters",
                ));
            }
            if self.bus.url.trim().is_empty() {
                return Err(SettingsError::Unsafe(
                    "set MEDRT__BUS__URL: the in-process bus cannot serve several nodes",
                ));
            }
        }
        let positive = [
            ("ws.send_queue_max", self.ws.send_queue_max as u64),
            (
                "ws.sessions_per_user_max",
                self.ws.sessions_per_user_max as u64,
            ),
            ("ws.heartbeat_interval_ms", self.ws.heartbeat_interval_ms),
            ("auth.token_ttl_secs", self.auth.token_ttl_secs),
            (
                "database.max_connections",
                self.database.pool.max_connections as u64,
            ),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(SettingsError::Invalid(format!(
                "{name} must be greater than zero"
            )));
        }
        if self.ws.heartbeat_timeout_ms <= self.ws.heartbeat_interval_ms {
            return Err(SettingsError::Invalid(
                "ws.heartbeat_timeout_ms must exceed ws.heartbeat_interval_ms".into(),
            ));
        }
        Ok(())
    }

    /// This node's id: configured, or host name plus process id plus a random suffix.
    pub fn node_id(&self) -> String {
        if !self.node.id.trim().is_empty() {
            return self.node.id.clone();
        }
        let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "node".into());
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
        format!("{}-{}-{suffix}", host.trim(), std::process::id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
    }

    fn load(env: &str, extra: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut figment = Settings::figment(&config_dir(), env);
        for (k, v) in extra {
            figment = figment.merge((*k, *v));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        settings.check(env)?;
        Ok(settings)
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = load("development", &[]).unwrap();
        assert_eq!(s.server.bind.to_string(), "127.0.0.1:8080");
        assert!(s.database.pool.url.starts_with("sqlite://data/"));
        assert!(s.bus.url.is_empty());
        assert!(s.cache.url.is_empty());
    }

    #[test]
    fn production_refuses_the_default_secret_and_the_in_process_bus() {
        let err = load("production", &[]).unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
        let secret = "s".repeat(40);
        let err = load("production", &[("auth.jwt_secret", &secret)]).unwrap_err();
        assert!(err.to_string().contains("BUS__URL"), "{err}");
        assert!(
            load(
                "production",
                &[
                    ("auth.jwt_secret", &secret),
                    ("bus.url", "nats://nats:4222")
                ]
            )
            .is_ok()
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let s = load("development", &[]).unwrap();
        assert!(!format!("{s:?}").contains(DEV_JWT_SECRET));
    }
}
