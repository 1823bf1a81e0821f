use std::ops::Deref;
use std::sync::Arc;

use medrt_actors::platform::Platform;
use medrt_inference::Inference;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::{LoginLimiter, Passwords, Tokens};
use crate::settings::Settings;

/// Everything a handler may use, shared by all requests.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub platform: Platform,
    /// Every configured model's pool (the chatbot and imaging run through it).
    pub inference: Arc<Inference>,
    pub tokens: Tokens,
    pub passwords: Passwords,
    pub login_limiter: LoginLimiter,
    pub settings: Settings,
    pub metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(inner: AppInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}
