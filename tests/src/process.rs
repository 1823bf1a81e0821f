//! The real `medrt` binary as a child process, for crash and signal tests.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::app::{ADMIN_PASSWORD, ADMIN_USER, config_dir};
use crate::backend::TestBackend;
use crate::client::ApiClient;

pub struct NodeProcess {
    child: Child,
    pub api: ApiClient,
    pub addr: String,
}

/// `target/<profile>/medrt`, next to the test binary's `deps/` folder, unless
/// `MEDRT_BIN` says otherwise.
pub fn medrt_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("MEDRT_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("medrt");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin medrt` first",
        bin.display()
    );
    bin
}

impl NodeProcess {
    /// Starts `medrt serve` on `backend` with extra `MEDRT__...` variables; returns once
    /// it listens.
    pub async fn start(backend: &TestBackend, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(medrt_binary());
        command
            .arg("serve")
            .env("MEDRT_ENV", "test")
            .env("MEDRT_CONFIG_DIR", config_dir())
            .env(
                "MEDRT_BOOTSTRAP_ADMIN",
                format!("{ADMIN_USER}:{ADMIN_PASSWORD}"),
            )
            .env("MEDRT__SERVER__BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true);
        for (key, value) in backend.overrides() {
            command.env(
                format!("MEDRT__{}", key.replace('.', "__").to_uppercase()),
                value,
            );
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("medrt starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(crate::DEADLINE, async {
            while let Some(line) = lines.next_line().await.expect("stdout line") {
                if let Some(rest) = line.strip_prefix("medrt listening on http://") {
                    return rest.split_whitespace().next().expect("address").to_owned();
                }
            }
            panic!("medrt exited before listening");
        })
        .await
        .expect("medrt listens before the deadline");
        // Keep draining stdout so the child never blocks on a full pipe.
        let echo = std::env::var_os("TEST_LOG").is_some();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    eprintln!("[medrt] {line}");
                }
            }
        });
        let api = ApiClient::with_base(format!("http://{addr}"));
        Self { child, api, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// SIGKILL: no shutdown code runs.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// SIGTERM, then waits for the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("running") as i32;
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        tokio::time::timeout(crate::DEADLINE, self.child.wait())
            .await
            .expect("exits after SIGTERM")
            .expect("exit status")
    }
}
