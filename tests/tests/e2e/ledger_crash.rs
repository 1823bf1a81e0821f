use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use medrt_tests::{NodeProcess, TestBackend};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BURST: usize = 400;
const KILL_AFTER_ACKS: usize = 100;

fn allocation(to: &str, i: usize) -> Value {
    json!({"to_user_id": to, "kind": "high", "amount": 1 + i % 5, "idempotency_key": format!("burst-{i}")})
}

#[tokio::test]
async fn a_kill_mid_burst_keeps_every_acknowledged_transfer_exactly_once() {
    let backend = TestBackend::new().await;
    let node = NodeProcess::start(&backend, &[]).await;
    let root = node.api.super_admin().await;
    let admin = node.api.sub_account(&root, "admin").await;
    let child = node.api.sub_account(&admin, "patient").await;
    let seed = node.api.post("/admin/points/grant", Some(&root.token), json!({"user_id": admin.id, "kind": "high", "amount": 10_000, "idempotency_key": "seed"})).await;
    assert_eq!(seed.status, StatusCode::CREATED);

    // A burst of allocations, 16 at a time; the node is SIGKILLed once 100 are acknowledged.
    let acks = Arc::new(AtomicUsize::new(0));
    let pid = node.pid();
    let burst = futures::stream::iter(0..BURST).map(|i| {
        let (api, token, to, acks) = (
            node.api.clone(),
            admin.token.clone(),
            child.id.clone(),
            acks.clone(),
        );
        async move {
            // A request cut off by the kill has an unknown outcome: `None`.
            let reply = api
                .try_send(reqwest::Method::POST, "/points/allocate", move |r| {
                    r.bearer_auth(token).json(&allocation(&to, i))
                })
                .await
                .ok();
            let acked = reply
                .as_ref()
                .is_some_and(|r| r.status == StatusCode::CREATED);
            if acked && acks.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER_ACKS {
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            (i, reply)
        }
    });
    use futures::StreamExt;
    let results: Vec<(usize, Option<medrt_tests::client::Reply>)> =
        burst.buffer_unordered(16).collect().await;
    node.kill().await;
    let acknowledged: HashMap<usize, Value> = results
        .iter()
        .filter_map(|(i, r)| {
            r.as_ref()
                .filter(|r| r.status == StatusCode::CREATED)
                .map(|r| (*i, r.body["transfer_id"].clone()))
        })
        .collect();
    assert!(
        acknowledged.len() >= KILL_AFTER_ACKS && acknowledged.len() < BURST,
        "the kill landed mid-burst: {} acks",
        acknowledged.len()
    );

    let node = NodeProcess::start(&backend, &[]).await;
    let admin_token = node.api.token(&admin.username, &admin.password).await;
    // Every acknowledged transfer is there: its retry replays the same transfer.
    for (i, transfer_id) in &acknowledged {
        let retry = node
            .api
            .post(
                "/points/allocate",
                Some(&admin_token),
                allocation(&child.id, *i),
            )
            .await;
        assert_eq!(
            retry.status,
            StatusCode::OK,
            "burst-{i} was acknowledged but is gone: {}",
            retry.body
        );
        assert_eq!(&retry.body["transfer_id"], transfer_id);
    }
    // The unacknowledged ones either committed whole before the kill or not at all.
    for i in (0..BURST).filter(|i| !acknowledged.contains_key(i)) {
        let retry = node
            .api
            .post(
                "/points/allocate",
                Some(&admin_token),
                allocation(&child.id, i),
            )
            .await;
        assert!(
            matches!(retry.status, StatusCode::OK | StatusCode::CREATED),
            "burst-{i}: {}",
            retry.body
        );
    }
    // Each key moved points exactly once, and the balances are exactly those moves.
    let mut seen = HashSet::new();
    let mut moved = 0;
    let mut cursor: Option<String> = None;
    let child_token = node.api.token(&child.username, &child.password).await;
    loop {
        let path = match &cursor {
            Some(c) => format!("/points/transactions?limit=200&cursor={c}"),
            None => "/points/transactions?limit=200".to_owned(),
        };
        let page = node.api.get(&path, &child_token).await;
        for item in page.body["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["transfer_id"].as_str().unwrap().to_owned()),
                "a transfer is listed twice"
            );
            moved += item["amount"].as_i64().unwrap();
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), BURST, "one transfer per key");
    let expected: i64 = (0..BURST).map(|i| 1 + (i % 5) as i64).sum();
    assert_eq!(moved, expected);
    assert_eq!(
        node.api.get("/points", &child_token).await.body["high"],
        expected
    );
    assert_eq!(
        node.api.get("/points", &admin_token).await.body["high"],
        10_000 - expected
    );
    let root_token = node.api.token(&root.username, &root.password).await;
    assert_eq!(
        node.api.get("/admin/ledger/audit", &root_token).await.body["balanced"],
        true
    );
}
