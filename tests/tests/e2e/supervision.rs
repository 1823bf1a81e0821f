use std::time::Duration;

use medrt_tests::ws::Ended;
use medrt_tests::{TestApp, TestBackend, WsClient, spawn_app};
use serde_json::json;

#[tokio::test]
async fn a_panicking_session_is_cleaned_up_and_the_others_keep_running() {
    // The bystander client reads nothing while the crash is awaited, so it cannot answer
    // heartbeats: give it longer than the test's 3 s before the server calls it dead.
    let app = TestApp::spawn(
        TestBackend::new().await,
        &[("ws.heartbeat_timeout_ms", "30000")],
    )
    .await;
    let root = app.api.super_admin().await;
    let victim = app.api.signup("patient").await;
    let bystander = app.api.signup("patient").await;

    let mut doomed = WsClient::connect(&app.ws_url(), &victim.token).await;
    let mut other = WsClient::connect(&app.ws_url(), &bystander.token).await;
    doomed.subscribe("announcements", None).await;
    other.subscribe("announcements", None).await;

    doomed.send_json(json!({"type": "fault.panic"})).await;
    match doomed.ended_within(Duration::from_secs(5)).await {
        Ended::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1011, "{frame:?}"),
        other => panic!("expected an internal-error close, got {other:?}"),
    }

    // The rest of the tree is untouched: the other session works and receives events.
    other.ping().await;
    app.api
        .post(
            "/admin/announcements",
            Some(&root.token),
            json!({"title": "still here", "body": "yes"}),
        )
        .await;
    assert_eq!(other.recv_type("announcement").await["title"], "still here");

    // The crashed session's slot was released: its user can connect again and subscribe.
    let mut again = WsClient::connect(&app.ws_url(), &victim.token).await;
    assert_eq!(
        again.subscribe("announcements", None).await["type"],
        "subscribed"
    );
    let presence = app
        .api
        .get(&format!("/admin/users/{}/presence", victim.id), &root.token)
        .await;
    assert_eq!(presence.body["online"], true);
    assert_eq!(presence.body["nodes"], json!([app.node_id]));
}

#[tokio::test]
async fn presence_follows_connections() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let user = app.api.signup("doctor").await;
    let path = format!("/admin/users/{}/presence", user.id);
    assert_eq!(app.api.get(&path, &root.token).await.body["online"], false);
    let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
    ws.ping().await;
    assert_eq!(
        app.api.get(&path, &root.token).await.body["nodes"],
        json!([app.node_id])
    );
    drop(ws);
    medrt_tests::eventually("presence to clear", || {
        let api = app.api.clone();
        let (path, token) = (path.clone(), root.token.clone());
        async move { (api.get(&path, &token).await.body["online"] == false).then_some(()) }
    })
    .await;
}
