use medrt_tests::{TestApp, TestBackend, WsClient};
use serde_json::json;

#[tokio::test]
async fn an_event_committed_on_node_a_reaches_a_client_on_node_b() {
    let backend = TestBackend::new().await;
    if !backend.services {
        eprintln!(
            "skipped: two nodes need PostgreSQL + NATS + Redis (set MEDRT_TEST_DATABASE_URL, MEDRT_TEST_NATS_URL, MEDRT_TEST_REDIS_URL)"
        );
        return;
    }
    let node_a = TestApp::spawn(backend.clone(), &[]).await;
    let node_b = TestApp::spawn(backend, &[]).await;
    let user = node_a.api.signup("patient").await;

    let mut on_b = WsClient::connect(&node_b.ws_url(), &user.token).await;
    on_b.subscribe(&format!("user:{}", user.id), None).await;
    let mut on_a = WsClient::connect(&node_a.ws_url(), &user.token).await;
    on_a.subscribe(&format!("user:{}", user.id), None).await;

    node_a
        .api
        .patch("/me", &user.token, json!({"phone": "+8613700000000"}))
        .await;
    for ws in [&mut on_b, &mut on_a] {
        let event = ws.recv_type("user.updated").await;
        assert_eq!(event["phone"], "+8613700000000");
    }

    // Presence is shared: both nodes hold one of the user's sessions.
    let root = node_b.api.super_admin().await;
    let presence = node_b
        .api
        .get(&format!("/admin/users/{}/presence", user.id), &root.token)
        .await;
    let mut expected = vec![node_a.node_id.clone(), node_b.node_id.clone()];
    expected.sort();
    assert_eq!(presence.body["nodes"], json!(expected));

    // A balance change committed through node A reaches the user's session on node B.
    node_a
        .api
        .post(
            "/admin/points/grant",
            Some(&root.token),
            json!({"user_id": user.id, "kind": "low", "amount": 3, "idempotency_key": "two-nodes"}),
        )
        .await;
    let balance = on_b.recv_type("points.balance").await;
    assert_eq!(balance["low"], 3);

    // The rate limit is shared too: failures through A count on B.
    for _ in 0..10 {
        node_a.api.login(&user.username, "wrong password!").await;
    }
    assert_eq!(
        node_b
            .api
            .login(&user.username, "wrong password!")
            .await
            .status
            .as_u16(),
        429
    );
}
