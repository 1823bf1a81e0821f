use std::collections::BTreeSet;

use medrt_tests::{WsClient, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = app.api.ops("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = app.api.ops("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    for dep in ["database", "bus", "cache"] {
        assert_eq!(ready.body["checks"][dep], "ok", "{dep}");
    }
    assert!(health.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn metrics_cover_http_sessions_and_the_bus() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
    ws.subscribe(&format!("user:{}", user.id), None).await;
    app.api
        .patch(
            "/me",
            &user.token,
            serde_json::json!({"phone": "+8613800000007"}),
        )
        .await;
    ws.recv_type("user.updated").await;
    let metrics = app.api.ops("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.body.as_str().expect("text");
    for name in [
        "medrt_http_requests_total",
        "medrt_http_request_duration_seconds_bucket",
        "medrt_ws_sessions",
        "medrt_bus_published_total",
        "medrt_bus_delivered_total",
        "medrt_outbox_published_total",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    assert!(
        text.contains(r#"route="/api/v1/me""#),
        "requests are labelled by route template"
    );
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = spawn_app().await;
    let doc = app.api.ops("/openapi.json").await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths: BTreeSet<&str> = doc.body["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/users/{user_id}",
        "/api/v1/admin/sub-accounts",
        "/api/v1/admin/users/{user_id}/presence",
        "/api/v1/admin/announcements",
        "/api/v1/announcements",
        "/api/v1/ws",
        "/api/v1/points",
        "/api/v1/points/transactions",
        "/api/v1/points/allocate",
        "/api/v1/admin/points/grant",
        "/api/v1/admin/config",
        "/api/v1/admin/ledger/audit",
        "/api/v1/distributors",
        "/api/v1/distributors/me",
        "/api/v1/distributors/me/qr.png",
        "/api/v1/distributors/me/downline",
        "/api/v1/admin/products",
        "/api/v1/products",
        "/api/v1/admin/coupons",
        "/api/v1/orders",
        "/api/v1/orders/{order_no}",
        "/api/v1/orders/{order_no}/pay",
        "/api/v1/orders/{order_no}/refund",
        "/api/v1/distributors/me/commissions",
        "/api/v1/admin/commission-rules",
        "/api/v1/admin/commissions/settle",
        "/api/v1/admin/distributors/{distributor_id}/fraud",
        "/api/v1/admin/distributors/{distributor_id}/payouts",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ]
    .into();
    assert_eq!(paths, expected);
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
}
