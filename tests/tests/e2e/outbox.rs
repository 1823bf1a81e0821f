use medrt_tests::{NodeProcess, TestBackend, WsClient};
use serde_json::json;

/// Reads a counter from Prometheus text.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn an_event_committed_before_a_kill_is_delivered_once_after_restart() {
    let backend = TestBackend::new().await;
    // First life: the relay is off, so the event stays committed but unpublished.
    let first = NodeProcess::start(&backend, &[("MEDRT__OUTBOX__ENABLED", "false")]).await;
    let user = first.api.signup("patient").await;
    let changed = first
        .api
        .patch("/me", &user.token, json!({"phone": "+8613812345678"}))
        .await;
    assert!(changed.status.is_success());
    first.kill().await;

    let second = NodeProcess::start(&backend, &[]).await;
    let published = medrt_tests::eventually("the relay to publish the leftover event", || {
        let api = second.api.clone();
        async move {
            let text = api.ops("/metrics").await.body.as_str()?.to_owned();
            (counter(&text, "medrt_outbox_published_total") >= 1.0)
                .then_some(counter(&text, "medrt_outbox_published_total"))
        }
    })
    .await;
    assert_eq!(
        published, 1.0,
        "exactly the one leftover event is published"
    );

    let topic = format!("user:{}", user.id);
    let mut ws = WsClient::connect(&second.ws_url(), &user.token).await;
    assert_eq!(ws.subscribe(&topic, Some(0)).await["recovered"], true);
    let event = ws.recv_type("user.updated").await;
    assert_eq!(event["phone"], "+8613812345678");
    let leftover_id = event["event_id"].clone();

    // A later event, delivered live, proves nothing older is still on its way.
    second
        .api
        .patch("/me", &user.token, json!({"phone": "+8613800000000"}))
        .await;
    loop {
        let next = ws.recv_type("user.updated").await;
        assert_ne!(
            next["event_id"], leftover_id,
            "the leftover event was delivered twice"
        );
        if next["phone"] == "+8613800000000" {
            break;
        }
    }
}

#[tokio::test]
async fn sigterm_closes_sessions_with_a_close_frame_and_exits_cleanly() {
    let backend = TestBackend::new().await;
    let node = NodeProcess::start(&backend, &[]).await;
    let user = node.api.signup("patient").await;
    let mut ws = WsClient::connect(&node.ws_url(), &user.token).await;
    ws.ping().await;
    let status = node.terminate().await;
    assert!(status.success(), "exit status {status}");
    match ws.ended_within(std::time::Duration::from_secs(5)).await {
        medrt_tests::ws::Ended::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("expected a going-away close, got {other:?}"),
    }
}
