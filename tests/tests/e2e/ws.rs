use std::time::Duration;

use medrt_tests::ws::Ended;
use medrt_tests::{TestApp, TestBackend, WsClient, spawn_app};
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

#[tokio::test]
async fn a_token_is_required() {
    let app = spawn_app().await;
    let refused = |r: Result<WsClient, tokio_tungstenite::tungstenite::Error>| match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("connected without a valid token"),
    };
    assert_eq!(refused(WsClient::try_connect(&app.ws_url()).await), 401);
    assert_eq!(
        refused(WsClient::try_connect(&format!("{}?token=garbage", app.ws_url())).await),
        401
    );
}

#[tokio::test]
async fn the_token_may_come_as_a_subprotocol() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let mut request = app.ws_url().into_client_request().unwrap();
    let protocol = HeaderValue::from_str(&format!("bearer, {}", user.token)).unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol);
    let mut ws = WsClient::connect_request(request)
        .await
        .expect("connects with the subprotocol");
    ws.ping().await;
}

#[tokio::test]
async fn ping_pong_and_bad_frames_keep_the_connection() {
    let app = spawn_app().await;
    let user = app.api.signup("doctor").await;
    let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
    ws.ping().await;
    for bad in [
        "not json",
        r#"{"no_type":1}"#,
        r#"{"type":"dance"}"#,
        r#"{"type":"subscribe"}"#,
    ] {
        let mut ws_bad = WsClient::connect(&app.ws_url(), &user.token).await;
        ws_bad.send_text(bad).await;
        let reply = ws_bad.recv().await;
        assert_eq!(reply["type"], "error", "{bad}");
        assert_eq!(reply["code"], "BAD_FRAME", "{bad}");
        ws_bad.ping().await;
    }
    ws.send_json(json!({"type": "subscribe", "topic": "planet:mars"}))
        .await;
    assert_eq!(ws.recv().await["code"], "BAD_TOPIC");
    ws.send_binary(vec![1, 2, 3]).await;
    assert_eq!(ws.recv().await["code"], "BAD_FRAME");
    ws.ping().await;
}

#[tokio::test]
async fn subscriptions_are_authorized_per_topic() {
    let app = spawn_app().await;
    let alice = app.api.signup("patient").await;
    let bob = app.api.signup("patient").await;
    let mut ws = WsClient::connect(&app.ws_url(), &alice.token).await;

    let own = ws.subscribe(&format!("user:{}", alice.id), None).await;
    assert_eq!(own["type"], "subscribed");
    let other = ws.subscribe(&format!("user:{}", bob.id), None).await;
    assert_eq!(other["type"], "error");
    assert_eq!(other["code"], "NOT_FOUND");
    assert_eq!(
        ws.subscribe("announcements", None).await["type"],
        "subscribed"
    );

    // Bob's change must not reach Alice; hers does.
    app.api
        .patch("/me", &bob.token, json!({"phone": "+8613900000000"}))
        .await;
    app.api
        .patch("/me", &alice.token, json!({"phone": "+8613800000000"}))
        .await;
    let event = ws.recv_type("user.updated").await;
    assert_eq!(event["user_id"], alice.id);
    assert_eq!(event["phone"], "+8613800000000");
    assert_eq!(event["topic"], format!("user:{}", alice.id));
    assert!(event["event_id"].as_i64().unwrap() > 0);
}

#[tokio::test]
async fn unsubscribe_stops_delivery() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
    let topic = format!("user:{}", user.id);
    ws.subscribe(&topic, None).await;
    ws.send_json(json!({"type": "unsubscribe", "topic": topic}))
        .await;
    assert_eq!(ws.recv_type("unsubscribed").await["topic"], topic);
    ws.subscribe("announcements", None).await;
    app.api
        .patch("/me", &user.token, json!({"phone": "+8613800000001"}))
        .await;
    let root = app.api.super_admin().await;
    app.api
        .post(
            "/admin/announcements",
            Some(&root.token),
            json!({"title": "marker", "body": "after the change"}),
        )
        .await;
    // Events arrive in commit order, so anything about the user would precede the marker.
    let next = ws.recv().await;
    assert_eq!(next["type"], "announcement", "got {next}");
}

#[tokio::test]
async fn all_of_a_users_sessions_receive_their_events() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let admin = app.api.sub_account(&root, "admin").await;
    let mut phone = WsClient::connect(&app.ws_url(), &admin.token).await;
    let mut laptop = WsClient::connect(&app.ws_url(), &admin.token).await;
    for ws in [&mut phone, &mut laptop] {
        ws.subscribe(&format!("user:{}", admin.id), None).await;
    }
    let child = app.api.sub_account(&admin, "patient").await;
    for ws in [&mut phone, &mut laptop] {
        let event = ws.recv_type("account.sub_account_created").await;
        assert_eq!(event["user_id"], child.id);
        assert_eq!(event["role"], "patient");
    }
}

/// A node that pings every 100 ms and gives up on a client after `timeout_ms` of silence.
async fn fast_heartbeat_app(timeout_ms: &str) -> TestApp {
    let settings = [
        ("ws.heartbeat_interval_ms", "100"),
        ("ws.heartbeat_timeout_ms", timeout_ms),
    ];
    TestApp::spawn(TestBackend::new().await, &settings).await
}

#[tokio::test]
async fn a_silent_client_is_closed_by_the_heartbeat() {
    let app = fast_heartbeat_app("400").await;
    let user = app.api.signup("patient").await;
    let mut silent = WsClient::connect(&app.ws_url(), &user.token).await;
    silent.ping().await;
    // Not reading means not answering the server's pings.
    tokio::time::sleep(Duration::from_millis(700)).await;
    match silent.ended_within(Duration::from_secs(5)).await {
        Ended::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1008, "{frame:?}"),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_responsive_idle_client_stays_connected() {
    // A timeout generous enough that a busy test machine cannot starve the client past it.
    let app = fast_heartbeat_app("1000").await;
    let user = app.api.signup("patient").await;
    let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
    // Reading answers pings automatically; three seconds of that outlive the timeout thrice.
    assert!(ws.try_recv(Duration::from_secs(3)).await.is_none());
    ws.ping().await;
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_and_others_are_not() {
    let backend = TestBackend::new().await;
    let app = TestApp::spawn(
        backend,
        &[("ws.send_queue_max", "4"), ("ws.write_timeout_ms", "300")],
    )
    .await;
    let root = app.api.super_admin().await;
    let reader = app.api.signup("patient").await;
    let sloth = app.api.signup("patient").await;
    let mut good = WsClient::connect(&app.ws_url(), &reader.token).await;
    let mut slow = WsClient::connect(&app.ws_url(), &sloth.token).await;
    good.subscribe("announcements", None).await;
    slow.subscribe("announcements", None).await;
    // ~60 KB each: 12 MB overflow the socket buffers, then the 4-frame queue.
    const ANNOUNCEMENTS: usize = 200;
    let body = "慢".repeat(20_000);
    let mut received = 0;
    for i in 0..ANNOUNCEMENTS {
        let reply = app
            .api
            .post(
                "/admin/announcements",
                Some(&root.token),
                json!({"title": format!("n{i}"), "body": body}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        while good.try_recv(Duration::from_millis(1)).await.is_some() {
            received += 1;
        }
    }
    while received < ANNOUNCEMENTS {
        good.recv_type("announcement").await;
        received += 1;
    }
    // The slow client never read: the server must have dropped it (reading now drains
    // what the socket buffered, then finds the connection ended).
    slow.ended_within(Duration::from_secs(10)).await;
    good.ping().await;
}

#[tokio::test]
async fn reconnecting_with_the_last_event_id_replays_what_was_missed() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let topic = format!("user:{}", user.id);
    let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
    ws.subscribe(&topic, None).await;
    app.api
        .patch("/me", &user.token, json!({"phone": "+8613800000001"}))
        .await;
    let seen = ws.recv_type("user.updated").await["event_id"]
        .as_i64()
        .unwrap();
    drop(ws);

    for n in 2..=4 {
        app.api
            .patch(
                "/me",
                &user.token,
                json!({"phone": format!("+861380000000{n}")}),
            )
            .await;
    }
    let mut back = WsClient::connect(&app.ws_url(), &user.token).await;
    let subscribed = back.subscribe(&topic, Some(seen)).await;
    assert_eq!(subscribed["recovered"], true);
    let mut phones = Vec::new();
    for _ in 0..3 {
        let event = back.recv_type("user.updated").await;
        assert!(event["event_id"].as_i64().unwrap() > seen);
        phones.push(event["phone"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        phones,
        ["+8613800000002", "+8613800000003", "+8613800000004"]
    );
    // Live events continue after the replay, without duplicates.
    app.api
        .patch("/me", &user.token, json!({"phone": "+8613800000005"}))
        .await;
    assert_eq!(
        back.recv_type("user.updated").await["phone"],
        "+8613800000005"
    );

    // The id may also come in the URL, for every subscription of the connection.
    let url = format!("{}?last_event_id={seen}&token={}", app.ws_url(), user.token);
    let mut by_url = WsClient::try_connect(&url).await.expect("connects");
    assert_eq!(by_url.subscribe(&topic, None).await["recovered"], true);
    for n in 2..=5 {
        assert_eq!(
            by_url.recv_type("user.updated").await["phone"],
            format!("+861380000000{n}")
        );
    }
}

#[tokio::test]
async fn too_old_a_position_says_recovered_false() {
    let backend = TestBackend::new().await;
    let app = TestApp::spawn(
        backend,
        &[
            ("outbox.retention_secs", "0"),
            ("outbox.prune_interval_secs", "0"),
        ],
    )
    .await;
    let user = app.api.signup("patient").await;
    app.api
        .patch("/me", &user.token, json!({"phone": "+8613800000009"}))
        .await;
    let topic = format!("user:{}", user.id);
    // Retention zero: published events are pruned on the next tick.
    let reply = medrt_tests::eventually("the outbox to be pruned", || {
        let url = app.ws_url();
        let token = user.token.clone();
        let topic = topic.clone();
        async move {
            let mut ws = WsClient::connect(&url, &token).await;
            let reply = ws.subscribe(&topic, Some(0)).await;
            (reply["recovered"] == false).then_some(reply)
        }
    })
    .await;
    assert_eq!(reply["type"], "subscribed");
}

#[tokio::test]
async fn sessions_per_user_are_limited() {
    let backend = TestBackend::new().await;
    let app = TestApp::spawn(backend, &[("ws.sessions_per_user_max", "2")]).await;
    let user = app.api.signup("patient").await;
    let mut first = WsClient::connect(&app.ws_url(), &user.token).await;
    let _second = WsClient::connect(&app.ws_url(), &user.token).await;
    first.ping().await;
    let mut third = WsClient::connect(&app.ws_url(), &user.token).await;
    let refusal = third.recv().await;
    assert_eq!(refusal["code"], "SESSION_REFUSED");
    match third.ended_within(Duration::from_secs(5)).await {
        Ended::Closed(Some(frame)) => assert_eq!(u16::from(frame.code), 1008),
        other => panic!("expected a policy close, got {other:?}"),
    }
    drop(first);
    let mut again = medrt_tests::eventually("a freed session slot", || {
        let url = app.ws_url();
        let token = user.token.clone();
        async move {
            let mut ws = WsClient::connect(&url, &token).await;
            ws.send_json(json!({"type": "ping"})).await;
            (ws.try_recv(Duration::from_secs(2)).await?["type"] == "pong").then_some(ws)
        }
    })
    .await;
    again.ping().await;
}
