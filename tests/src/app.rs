//! An in-process medrt node on an ephemeral port.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use medrt_gateway::{Application, BootstrapAdmin, settings::Settings, telemetry};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backend::TestBackend;
use crate::client::ApiClient;

pub const ADMIN_USER: &str = "root";
pub const ADMIN_PASSWORD: &str = "root-password-for-tests";

pub struct TestApp {
    pub addr: SocketAddr,
    pub backend: TestBackend,
    pub api: ApiClient,
    pub node_id: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// Settings for the test overlay on `backend`, with `extra` figment overrides on top.
pub fn test_settings(backend: &TestBackend, node_id: &str, extra: &[(&str, &str)]) -> Settings {
    let mut figment: Figment = Settings::figment(&config_dir(), "test");
    for (key, value) in backend.overrides() {
        figment = figment.merge((key, value));
    }
    figment = figment.merge(("node.id", node_id));
    for (key, value) in extra {
        // Numbers and booleans must arrive typed.
        let value: figment::value::Value = match (value.parse::<i64>(), value.parse::<bool>()) {
            (Ok(n), _) => n.into(),
            (_, Ok(b)) => b.into(),
            _ => (*value).into(),
        };
        figment = figment.merge((*key, value));
    }
    let settings: Settings = figment.extract().expect("test settings");
    settings.check("test").expect("valid test settings");
    settings
}

/// A node on a fresh backend.
pub async fn spawn_app() -> TestApp {
    TestApp::spawn(TestBackend::new().await, &[]).await
}

impl TestApp {
    /// A node on `backend` (shared with other nodes when they use the same one).
    pub async fn spawn(backend: TestBackend, extra: &[(&str, &str)]) -> TestApp {
        if std::env::var_os("TEST_LOG").is_some() {
            telemetry::init(
                medrt_gateway::settings::LogFormat::Pretty,
                "info,sqlx=warn",
                std::io::stderr,
            );
        }
        let node_id = format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let settings = test_settings(&backend, &node_id, extra);
        let admin =
            BootstrapAdmin::parse(&format!("{ADMIN_USER}:{ADMIN_PASSWORD}")).expect("admin");
        let app = Application::build(settings, Some(admin))
            .await
            .expect("app starts");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        TestApp {
            addr,
            backend,
            api: ApiClient::new(addr),
            node_id,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Graceful shutdown, as on SIGTERM; waits until the node has stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
