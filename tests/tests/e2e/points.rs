use medrt_tests::client::{Account, ApiClient};
use medrt_tests::{TestApp, TestBackend, WsClient, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

async fn grant(
    api: &ApiClient,
    root: &Account,
    to: &str,
    kind: &str,
    amount: i64,
    key: &str,
) -> medrt_tests::client::Reply {
    api.post(
        "/admin/points/grant",
        Some(&root.token),
        json!({"user_id": to, "kind": kind, "amount": amount, "idempotency_key": key}),
    )
    .await
}

async fn allocate(
    api: &ApiClient,
    admin: &Account,
    to: &str,
    amount: i64,
    key: &str,
) -> medrt_tests::client::Reply {
    api.post(
        "/points/allocate",
        Some(&admin.token),
        json!({"to_user_id": to, "kind": "high", "amount": amount, "idempotency_key": key}),
    )
    .await
}

async fn points(api: &ApiClient, user: &Account) -> (i64, i64) {
    let reply = api.get("/points", &user.token).await;
    assert_eq!(reply.status, StatusCode::OK);
    (
        reply.body["high"].as_i64().unwrap(),
        reply.body["low"].as_i64().unwrap(),
    )
}

async fn assert_balanced(api: &ApiClient, root: &Account) {
    let audit = api.get("/admin/ledger/audit", &root.token).await;
    assert_eq!(audit.status, StatusCode::OK);
    assert_eq!(audit.body["balanced"], true, "{}", audit.body);
}

#[tokio::test]
async fn grants_are_idempotent_and_show_in_balance_history_and_live() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let patient = app.api.signup("patient").await;
    let mut ws = WsClient::connect(&app.ws_url(), &patient.token).await;
    ws.subscribe(&format!("user:{}", patient.id), None).await;

    let first = grant(&app.api, &root, &patient.id, "high", 100, "grant-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let live = ws.recv_type("points.balance").await;
    assert_eq!(
        (live["high"].as_i64(), live["low"].as_i64()),
        (Some(100), Some(0))
    );

    let again = grant(&app.api, &root, &patient.id, "high", 100, "grant-1").await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["transfer_id"], first.body["transfer_id"]);
    let different = grant(&app.api, &root, &patient.id, "high", 99, "grant-1").await;
    assert_eq!(different.status, StatusCode::CONFLICT);
    assert_eq!(different.error_code(), Some("IDEMPOTENCY_KEY_REUSED"));

    assert_eq!(
        grant(&app.api, &root, &patient.id, "low", 7, "grant-2")
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(points(&app.api, &patient).await, (100, 7));

    let history = app.api.get("/points/transactions", &patient.token).await;
    let items = history.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the replay moved nothing: {}", history.body);
    assert_eq!(items[0]["kind"], "low");
    assert_eq!(items[1]["amount"], 100);
    assert_eq!(items[1]["direction"], "in");
    assert_eq!(items[1]["reason"], "grant");
    assert_eq!(items[1]["counterparty"], "system:issuance");
    assert_balanced(&app.api, &root).await;
}

#[tokio::test]
async fn grant_input_is_validated_and_restricted() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let admin = app.api.sub_account(&root, "admin").await;
    let patient = app.api.signup("patient").await;
    assert_eq!(
        grant(&app.api, &admin, &patient.id, "high", 1, "k")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    for (kind, amount, key) in [
        ("high", 0, "k1"),
        ("high", -5, "k2"),
        ("gold", 1, "k3"),
        ("high", 1, ""),
        ("high", 1, "has space"),
    ] {
        let reply = grant(&app.api, &root, &patient.id, kind, amount, key).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{kind} {amount} {key:?}: {}",
            reply.body
        );
    }
    let nobody = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        grant(&app.api, &root, &nobody, "high", 1, "k4")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn admins_allocate_only_to_their_own_sub_accounts() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let admin = app.api.sub_account(&root, "admin").await;
    let other_admin = app.api.sub_account(&root, "admin").await;
    let mine = app.api.sub_account(&admin, "doctor").await;
    let theirs = app.api.sub_account(&other_admin, "doctor").await;
    let stranger = app.api.signup("patient").await;
    grant(&app.api, &root, &admin.id, "high", 50, "seed").await;

    let ok = allocate(&app.api, &admin, &mine.id, 20, "a1").await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["direction"], "out");
    assert_eq!(points(&app.api, &admin).await.0, 30);
    assert_eq!(points(&app.api, &mine).await.0, 20);

    assert_eq!(
        allocate(&app.api, &admin, &theirs.id, 1, "a2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        allocate(&app.api, &admin, &stranger.id, 1, "a3")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        allocate(&app.api, &admin, &uuid::Uuid::now_v7().to_string(), 1, "a4")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        allocate(&app.api, &stranger, &mine.id, 1, "a5")
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let short = allocate(&app.api, &admin, &mine.id, 31, "a6").await;
    assert_eq!(short.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(short.error_code(), Some("INSUFFICIENT_POINTS"));
    assert_eq!(points(&app.api, &admin).await.0, 30, "nothing moved");
    assert_eq!(points(&app.api, &mine).await.0, 20);
    // The refused key is not burnt: the same key may be used once the points are there.
    grant(&app.api, &root, &admin.id, "high", 1, "top-up").await;
    assert_eq!(
        allocate(&app.api, &admin, &mine.id, 31, "a6").await.status,
        StatusCode::CREATED
    );
    assert_eq!(points(&app.api, &admin).await.0, 0);
    assert_balanced(&app.api, &root).await;
}

#[tokio::test]
async fn payment_config_is_super_admin_only_and_validated() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let admin = app.api.sub_account(&root, "admin").await;
    let current = app.api.get("/admin/config", &root.token).await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.body["payment_mode"], "prepaid");
    let config = json!({"payment_mode": "postpaid", "prices": {"ct_bone_skin": {"kind": "high", "amount": 12}, "ct_lung": {"kind": "low", "amount": 3}}});
    let put = app
        .api
        .request(
            reqwest::Method::PUT,
            "/admin/config",
            Some(&root.token),
            Some(config.clone()),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(app.api.get("/admin/config", &root.token).await.body, config);
    for bad in [
        json!({"payment_mode": "free", "prices": {}}),
        json!({"payment_mode": "prepaid", "prices": {"x": {"kind": "high", "amount": 0}}}),
        json!({"payment_mode": "prepaid", "prices": {"Bad Type": {"kind": "high", "amount": 1}}}),
        json!({"payment_mode": "prepaid"}),
    ] {
        let reply = app
            .api
            .request(
                reqwest::Method::PUT,
                "/admin/config",
                Some(&root.token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(
        app.api.get("/admin/config", &admin.token).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn concurrent_spends_never_overdraw() {
    let backend = TestBackend::new().await;
    // Two nodes when the services are there (they share the database), else one.
    let node_a = TestApp::spawn(backend.clone(), &[]).await;
    let node_b = if backend.services {
        Some(TestApp::spawn(backend, &[]).await)
    } else {
        None
    };
    let root = node_a.api.super_admin().await;
    let admin = node_a.api.sub_account(&root, "admin").await;
    let child = node_a.api.sub_account(&admin, "patient").await;
    grant(&node_a.api, &root, &admin.id, "high", 100, "seed").await;

    let apis: Vec<ApiClient> = std::iter::once(node_a.api.clone())
        .chain(node_b.iter().map(|n| n.api.clone()))
        .collect();
    let spends = (0..200).map(|i| {
        let api = apis[i % apis.len()].clone();
        let (admin, child) = (admin.clone(), child.id.clone());
        tokio::spawn(async move {
            allocate(&api, &admin, &child, 1, &format!("spend-{i}"))
                .await
                .status
        })
    });
    let statuses = futures::future::join_all(spends).await;
    let created = statuses
        .iter()
        .filter(|s| *s.as_ref().unwrap() == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| *s.as_ref().unwrap() == StatusCode::PAYMENT_REQUIRED)
        .count();
    assert_eq!((created, refused), (100, 100), "{statuses:?}");
    assert_eq!(points(&node_a.api, &admin).await.0, 0);
    assert_eq!(points(&node_a.api, &child).await.0, 100);
    assert_balanced(&node_a.api, &root).await;
    // Both histories hold every transfer once, whichever node wrote it.
    let admin_history = transaction_ids(&node_a.api, &admin, 7).await;
    let child_history = transaction_ids(&apis[apis.len() - 1], &child, 7).await;
    assert_eq!(admin_history.len(), 101, "the grant and 100 allocations");
    assert_eq!(child_history.len(), 100);
    let distinct: std::collections::HashSet<&String> = admin_history.iter().collect();
    assert_eq!(distinct.len(), 101);
    assert!(child_history.iter().all(|id| distinct.contains(id)));
}

/// Grants to many users at once are committed in shared batches, whose balance events
/// share an outbox row: each user still sees exactly their own balance live, and a
/// client resuming from before them is either sent the event or told to reload.
#[tokio::test]
async fn grants_to_many_users_at_once_reach_each_user_live_and_resuming_never_hides_one() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let mut users = Vec::new();
    for _ in 0..12 {
        let user = app.api.signup("patient").await;
        let mut ws = WsClient::connect(&app.ws_url(), &user.token).await;
        ws.subscribe(&format!("user:{}", user.id), None).await;
        users.push((user, ws));
    }
    let keys: Vec<String> = (0..users.len()).map(|i| format!("many-{i}")).collect();
    let grants = users
        .iter()
        .zip(&keys)
        .enumerate()
        .map(|(i, ((user, _), key))| grant(&app.api, &root, &user.id, "high", 10 + i as i64, key));
    for reply in futures::future::join_all(grants).await {
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    for (i, (user, ws)) in users.iter_mut().enumerate() {
        let live = ws.recv_type("points.balance").await;
        assert_eq!(live["topic"], format!("user:{}", user.id));
        assert_eq!(live["high"].as_i64(), Some(10 + i as i64), "{live}");
    }

    for (i, (user, _)) in users.iter().enumerate() {
        let mut resumed = WsClient::connect(&app.ws_url(), &user.token).await;
        let reply = resumed
            .subscribe(&format!("user:{}", user.id), Some(0))
            .await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        if reply["recovered"] == true {
            let replayed = resumed.recv_type("points.balance").await;
            assert_eq!(replayed["high"].as_i64(), Some(10 + i as i64), "{replayed}");
        } else {
            assert_eq!(reply["recovered"], false, "{reply}");
        }
    }
    assert_balanced(&app.api, &root).await;
}

/// `GET /points/transactions?<query>` as `user`.
async fn transactions(api: &ApiClient, user: &Account, query: &str) -> medrt_tests::client::Reply {
    api.get(&format!("/points/transactions?{query}"), &user.token)
        .await
}

/// Every `transfer_id` of `user`'s history, following `next_cursor` `limit` at a time.
async fn transaction_ids(api: &ApiClient, user: &Account, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = transactions(api, user, &format!("limit={limit}&cursor={cursor}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let items = reply.body["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(
            items
                .iter()
                .map(|t| t["transfer_id"].as_str().unwrap().to_owned()),
        );
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn history_pages_through_both_kinds_newest_first_and_only_the_callers() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let patient = app.api.signup("patient").await;
    let other = app.api.signup("patient").await;
    let mut granted = Vec::new();
    for (i, kind) in ["high", "low", "low", "high", "high", "low", "high"]
        .into_iter()
        .enumerate()
    {
        let reply = grant(
            &app.api,
            &root,
            &patient.id,
            kind,
            1 + i as i64,
            &format!("h{i}"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        granted.push(reply.body["transfer_id"].as_str().unwrap().to_owned());
        let reply = grant(&app.api, &root, &other.id, kind, 1, &format!("o{i}")).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    granted.reverse();
    for limit in [1, 2, 3, 50] {
        assert_eq!(
            transaction_ids(&app.api, &patient, limit).await,
            granted,
            "limit {limit}"
        );
    }
    assert_eq!(transaction_ids(&app.api, &other, 2).await.len(), 7);

    // A cursor is only a position: another user's cannot show the caller's transfers.
    let first = transactions(&app.api, &patient, "limit=2").await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let foreign = transactions(&app.api, &other, &format!("cursor={cursor}")).await;
    assert_eq!(foreign.status, StatusCode::OK);
    assert_eq!(foreign.body["items"], json!([]), "{}", foreign.body);
    for bad in ["nope", "-.-", "1.2"] {
        let reply = transactions(&app.api, &patient, &format!("cursor={bad}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.body["error"]["code"], "INVALID_CURSOR");
    }
}
