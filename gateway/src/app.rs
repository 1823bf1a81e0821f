//! `Application`: builds the whole node from settings (database, bus, cache, actor
//! tree, HTTP router), serves it, and shuts it down in order.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Extension, Router};
use medrt_actors::ledger::CommitSettings;
use medrt_actors::platform::{Platform, PlatformError};
use medrt_actors::root::RootArgs;
use medrt_actors::session::SessionLimits;
use medrt_actors::store::{Store, StoreError};
use medrt_actors::{bus, cache};
use medrt_domain::account::{Password, Username};
use medrt_inference::Inference;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{LoginLimiter, Passwords, Tokens};
use crate::error::ApiError;
use crate::http_metrics;
use crate::openapi::ApiDoc;
use crate::routes::{self, ops};
use crate::settings::Settings;
use crate::state::{AppInner, AppState};
use crate::ws;

/// The super_admin created at start-up from `MEDRT_BOOTSTRAP_ADMIN=user:password`.
pub struct BootstrapAdmin {
    pub username: Username,
    pub password: Password,
}

impl BootstrapAdmin {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (user, password) = raw
            .split_once(':')
            .ok_or("MEDRT_BOOTSTRAP_ADMIN must be user:password")?;
        Ok(Self {
            username: Username::parse(user).map_err(|e| format!("MEDRT_BOOTSTRAP_ADMIN: {e}"))?,
            password: Password::parse(password)
                .map_err(|e| format!("MEDRT_BOOTSTRAP_ADMIN: {e}"))?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("bus: {0}")]
    Bus(#[from] bus::BusError),
    #[error("cache: {0}")]
    Cache(#[from] cache::CacheError),
    #[error("{0}")]
    Platform(#[from] PlatformError),
    #[error("password hashing: {0}")]
    Passwords(String),
    #[error("storage directory {0}: {1}")]
    Storage(String, std::io::Error),
    #[error("inference: {0}")]
    Inference(#[from] medrt_inference::StartupError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    pub async fn build(
        settings: Settings,
        bootstrap: Option<BootstrapAdmin>,
    ) -> Result<Self, StartError> {
        // First, so that what the actors count from their first moment is recorded.
        let metrics = http_metrics::recorder();
        // Models next: a missing library or model stops startup before anything is touched.
        let inference = Arc::new(Inference::start(&settings.inference).await?);
        let store = Store::connect(&settings.database.pool).await?;
        if settings.database.migrate_on_start {
            store.migrate().await?;
        }
        std::fs::create_dir_all(&settings.storage.dir)
            .map_err(|e| StartError::Storage(settings.storage.dir.display().to_string(), e))?;
        let bus = bus::connect(&settings.bus).await?;
        let cache = cache::connect(&settings.cache).await?;
        let auth = &settings.auth;
        let passwords = Passwords::new(auth.argon2_memory_kib, auth.argon2_iterations)
            .map_err(|e| StartError::Passwords(e.to_string()))?;
        if let Some(admin) = bootstrap {
            let hash = passwords
                .hash(admin.password)
                .await
                .map_err(|e| StartError::Passwords(e.to_string()))?;
            if store
                .users()
                .ensure_super_admin(&admin.username, hash)
                .await?
            {
                tracing::info!(username = %admin.username, "super_admin bootstrapped");
            }
        }
        let node_id = settings.node_id();
        let platform = Platform::start(RootArgs {
            node_id: node_id.clone(),
            store,
            bus,
            cache,
            limits: SessionLimits {
                topics_max: settings.ws.topics_max,
                replay_max: settings.ws.replay_max,
            },
            sessions_per_user_max: settings.ws.sessions_per_user_max,
            presence_ttl: Duration::from_secs(settings.node.presence_ttl_secs.max(3)),
            relay: settings.outbox.clone(),
            ledger: CommitSettings {
                batch_max: settings.ledger.batch_max,
                commit_delay: Duration::from_micros(settings.ledger.commit_delay_us),
            },
            settlement: settings.distribution.settlement.clone(),
        })
        .await?;
        let state = AppState::new(AppInner {
            platform,
            inference,
            tokens: Tokens::new(&auth.jwt_secret, Duration::from_secs(auth.token_ttl_secs)),
            passwords,
            login_limiter: LoginLimiter::new(
                auth.login_failures_max,
                Duration::from_secs(auth.login_failure_window_secs),
            ),
            metrics,
            settings,
        });
        let bind = state.settings.server.bind;
        let listener = TcpListener::bind(bind)
            .await
            .map_err(|e| StartError::Bind(bind, e))?;
        let router = router(state.clone());
        tracing::info!(
            addr = %listener.local_addr().map_err(|e| StartError::Bind(bind, e))?,
            node = %node_id,
            database = state.platform.store().backend_name(),
            bus = state.platform.bus_kind(),
            cache = state.platform.cache().kind(),
            "medrt listening"
        );
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests finish,
    /// closes WebSocket sessions with a close frame and flushes the outbox.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        // Small frames (pushed events, replies) go out at once: with Nagle's algorithm a
        // frame could wait for the client's delayed ACK of the previous one (~40 ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        let grace = Duration::from_millis(self.state.settings.server.shutdown_grace_ms);
        self.state.platform.shutdown(grace).await;
        self.state.inference.stop().await;
        tracing::info!("medrt stopped");
        served
    }
}

fn router(state: AppState) -> Router {
    let server = &state.settings.server;
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", routes::api().routes(routes!(ws::upgrade)))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
        .split_for_parts();
    router
        // The contract names `/ws`; `/api/v1/ws` is the same endpoint under the base path.
        .route("/ws", get(ws::upgrade))
        .fallback(|| async { ApiError::NotFound })
        .route_layer(axum::middleware::from_fn(http_metrics::track))
        .layer(Extension(Arc::new(doc)))
        .layer(DefaultBodyLimit::max(server.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_millis(server.request_timeout_ms)))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-")
                .to_owned();
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), %request_id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
