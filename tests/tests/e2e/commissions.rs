use medrt_tests::client::{Account, ApiClient};
use medrt_tests::ws::WsClient;
use medrt_tests::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::orders::{order, product};

struct Chain {
    /// Top first.
    members: Vec<(Account, Value)>,
}

/// Four distributors, each under the one before.
async fn chain(api: &ApiClient) -> Chain {
    let mut members: Vec<(Account, Value)> = Vec::new();
    for _ in 0..4 {
        let who = api.signup("distributor").await;
        let body = match members.last() {
            Some((_, up)) => json!({"referral_code": up["referral_code"]}),
            None => json!({}),
        };
        let joined = api.post("/distributors", Some(&who.token), body).await;
        assert_eq!(joined.status, 201, "{:?}", joined.body);
        members.push((who, joined.body));
    }
    Chain { members }
}

/// Sends `method path` with `body` as `who` and expects 200.
async fn ok(api: &ApiClient, method: Method, path: &str, who: &Account, body: Value) {
    let reply = api
        .request(method, path, Some(&who.token), Some(body))
        .await;
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
}

async fn set_rules(api: &ApiClient, root: &Account, levels: &[&str], days: u32) {
    let body = json!({"levels": levels, "settlement_days": days});
    ok(api, Method::PUT, "/admin/commission-rules", root, body).await;
}

async fn pay(api: &ApiClient, buyer: &Account, no: &str, payment_ref: &str) {
    let body = json!({"payment_ref": payment_ref});
    ok(api, Method::POST, &format!("/orders/{no}/pay"), buyer, body).await;
}

async fn refund(api: &ApiClient, root: &Account, no: &str, amount: &str) {
    let body = json!({"amount": amount});
    ok(
        api,
        Method::POST,
        &format!("/orders/{no}/refund"),
        root,
        body,
    )
    .await;
}

async fn listen(app: &TestApp, who: &Account) -> WsClient {
    let mut ws = WsClient::connect(&app.ws_url(), &who.token).await;
    let reply = ws.subscribe(&format!("user:{}", who.id), None).await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    ws
}

/// The next `commission.update` for `order_no`.
async fn update_for(ws: &mut WsClient, order_no: &str) -> Value {
    loop {
        let frame = ws.recv_type("commission.update").await;
        if frame["order_no"] == order_no {
            return frame;
        }
    }
}

async fn my_commissions(api: &ApiClient, who: &Account, query: &str) -> Vec<Value> {
    let reply = api
        .get(&format!("/distributors/me/commissions{query}"), &who.token)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_order_at_the_bottom_of_a_four_level_chain_pays_three_uplines_live_and_a_refund_reverses_them()
 {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    set_rules(&app.api, &root, &["0.10", "0.05", "0.02"], 7).await;
    let chain = chain(&app.api).await;
    let mut sessions = Vec::new();
    for (who, _) in &chain.members[..3] {
        sessions.push(listen(&app, who).await);
    }
    let buyer = &chain.members[3].0;
    let meter = product(&app.api, &root, "123.45").await;
    let created = order(
        &app.api,
        buyer,
        json!({"items": [{"product_id": meter, "qty": 1}]}),
    )
    .await;
    let no = created["order_no"].as_str().unwrap().to_owned();
    pay(&app.api, buyer, &no, "pay-chain-1").await;

    // Level 1 is the buyer's upline (10 %), then 5 % and 2 %, each rounded down.
    let expected = [(2, 1, "12.34"), (1, 2, "6.17"), (0, 3, "2.46")];
    for (member, level, amount) in expected {
        let live = update_for(&mut sessions[member], &no).await;
        assert_eq!(
            (&live["level"], &live["amount"], &live["status"]),
            (&json!(level), &json!(amount), &json!("pending")),
            "member {member}: {live}"
        );
        assert_eq!(live["totals"]["pending"], amount);
        assert_eq!(live["totals"]["reversed"], "0.00");
        let listed = my_commissions(&app.api, &chain.members[member].0, "").await;
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (&listed[0]["order_no"], &listed[0]["amount"]),
            (&json!(no), &json!(amount))
        );
    }
    // The buyer earns nothing on their own purchase.
    assert!(my_commissions(&app.api, buyer, "").await.is_empty());

    // A second payment with the same reference earns nothing twice.
    pay(&app.api, buyer, &no, "pay-chain-1").await;
    let me = app
        .api
        .get("/distributors/me", &chain.members[2].0.token)
        .await;
    assert_eq!(me.body["totals"]["pending"], "12.34");
    assert_eq!(me.body["downline_sales"], "123.45");

    // A full refund before settlement reverses every level, live.
    refund(&app.api, &root, &no, "123.45").await;
    for (member, _, amount) in expected {
        let live = update_for(&mut sessions[member], &no).await;
        assert_eq!(
            (&live["amount"], &live["status"]),
            (&json!("0.00"), &json!("reversed")),
            "{live}"
        );
        assert_eq!(
            (&live["totals"]["pending"], &live["totals"]["reversed"]),
            (&json!("0.00"), &json!(amount))
        );
    }
    let reversed = my_commissions(&app.api, &chain.members[2].0, "?status=reversed").await;
    assert_eq!(reversed.len(), 1);
    assert!(
        my_commissions(&app.api, &chain.members[2].0, "?status=pending")
            .await
            .is_empty()
    );
    let bad = app
        .api
        .get(
            "/distributors/me/commissions?status=lost",
            &chain.members[2].0.token,
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn settlement_moves_due_commissions_once_and_a_later_refund_claws_back() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    set_rules(&app.api, &root, &["0.10", "0.05"], 0).await;
    let chain = chain(&app.api).await;
    let buyer = &chain.members[3].0;
    let (direct, _) = &chain.members[2];
    let mut ws = listen(&app, direct).await;
    let meter = product(&app.api, &root, "200").await;
    let created = order(
        &app.api,
        buyer,
        json!({"items": [{"product_id": meter, "qty": 1}]}),
    )
    .await;
    let no = created["order_no"].as_str().unwrap().to_owned();
    pay(&app.api, buyer, &no, "pay-settle-1").await;
    update_for(&mut ws, &no).await;

    let settled = app
        .api
        .post("/admin/commissions/settle", Some(&root.token), json!({}))
        .await;
    assert_eq!(settled.status, 200, "{:?}", settled.body);
    assert_eq!(
        (&settled.body["settled"], &settled.body["amount"]),
        (&json!(2), &json!("30.00"))
    );
    let live = ws.recv_type("commission.settled").await;
    assert_eq!(
        (&live["count"], &live["amount"]),
        (&json!(1), &json!("20.00"))
    );
    assert_eq!(
        (&live["totals"]["settled"], &live["totals"]["pending"]),
        (&json!("20.00"), &json!("0.00"))
    );
    // Settling again finds nothing: it is idempotent.
    let again = app
        .api
        .post("/admin/commissions/settle", Some(&root.token), json!({}))
        .await;
    assert_eq!(again.body["settled"], 0);

    // Half refunded after settlement: half the commission is clawed back.
    refund(&app.api, &root, &no, "100").await;
    let live = update_for(&mut ws, &no).await;
    assert_eq!(
        (&live["amount"], &live["status"]),
        (&json!("10.00"), &json!("settled")),
        "{live}"
    );
    let listed = my_commissions(&app.api, direct, "?status=settled").await;
    assert_eq!(
        (
            &listed[0]["settled"],
            &listed[0]["clawed_back"],
            &listed[0]["amount"]
        ),
        (&json!("20.00"), &json!("10.00"), &json!("10.00"))
    );
    let me = app.api.get("/distributors/me", &direct.token).await;
    assert_eq!(me.body["totals"]["clawed_back"], "10.00");
    assert_eq!(me.body["clawback_outstanding"], "10.00");

    // The payout deducts the clawback; paying out again finds nothing settled.
    let id = chain.members[2].1["distributor_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let payout = |api: &ApiClient| {
        let path = format!("/admin/distributors/{id}/payouts");
        let token = root.token.clone();
        let api = api.clone();
        async move { api.post(&path, Some(&token), json!({})).await }
    };
    let paid = payout(&app.api).await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    assert_eq!(
        (
            &paid.body["gross"],
            &paid.body["clawback"],
            &paid.body["net"]
        ),
        (&json!("20.00"), &json!("10.00"), &json!("10.00"))
    );
    let nothing = payout(&app.api).await;
    assert_eq!(
        (nothing.status.as_u16(), nothing.error_code()),
        (409, Some("NOTHING_TO_PAY_OUT"))
    );
    assert_eq!(
        my_commissions(&app.api, direct, "?status=paid_out")
            .await
            .len(),
        1
    );

    // Refunded in full after the payout: the rest is owed and comes off the next one.
    refund(&app.api, &root, &no, "100").await;
    let next = order(
        &app.api,
        buyer,
        json!({"items": [{"product_id": meter, "qty": 1}]}),
    )
    .await;
    pay(
        &app.api,
        buyer,
        next["order_no"].as_str().unwrap(),
        "pay-settle-2",
    )
    .await;
    app.api
        .post("/admin/commissions/settle", Some(&root.token), json!({}))
        .await;
    let paid = payout(&app.api).await;
    assert_eq!(
        (
            &paid.body["gross"],
            &paid.body["clawback"],
            &paid.body["net"]
        ),
        (&json!("20.00"), &json!("10.00"), &json!("10.00")),
        "{:?}",
        paid.body
    );
    let me = app.api.get("/distributors/me", &direct.token).await;
    assert_eq!(
        (
            &me.body["totals"]["paid_out"],
            &me.body["clawback_outstanding"]
        ),
        (&json!("40.00"), &json!("0.00"))
    );
    let stranger = app
        .api
        .post(
            &format!("/admin/distributors/{}/payouts", uuid::Uuid::now_v7()),
            Some(&root.token),
            json!({}),
        )
        .await;
    assert_eq!(stranger.status, 404);
    let not_admin = app
        .api
        .post(
            &format!("/admin/distributors/{id}/payouts"),
            Some(&direct.token),
            json!({}),
        )
        .await;
    assert_eq!(not_admin.status, 403);
}

#[tokio::test]
async fn fraud_voids_open_commissions_and_blocks_new_ones_and_bad_referrals_are_refused() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let chain = chain(&app.api).await;
    let buyer = &chain.members[3].0;
    let (direct, joined) = &chain.members[2];
    let meter = product(&app.api, &root, "50").await;
    let items = json!([{"product_id": meter, "qty": 2}]);
    let first = order(&app.api, buyer, json!({"items": items})).await;
    pay(
        &app.api,
        buyer,
        first["order_no"].as_str().unwrap(),
        "pay-fraud-1",
    )
    .await;
    assert_eq!(
        my_commissions(&app.api, direct, "?status=pending")
            .await
            .len(),
        1
    );

    let id = joined["distributor_id"].as_str().unwrap();
    let denied = app
        .api
        .post(
            &format!("/admin/distributors/{id}/fraud"),
            Some(&direct.token),
            json!({}),
        )
        .await;
    assert_eq!(denied.status, 403);
    let marked = app
        .api
        .post(
            &format!("/admin/distributors/{id}/fraud"),
            Some(&root.token),
            json!({}),
        )
        .await;
    assert_eq!(
        (marked.status.as_u16(), &marked.body["voided"]),
        (200, &json!(1))
    );
    let unknown = app
        .api
        .post(
            &format!("/admin/distributors/{}/fraud", uuid::Uuid::now_v7()),
            Some(&root.token),
            json!({}),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let me = app.api.get("/distributors/me", &direct.token).await;
    assert_eq!(
        (&me.body["blocked"], &me.body["totals"]["voided"]),
        (&json!(true), &json!("10.00"))
    );

    // A new order pays the levels above, not the blocked distributor.
    let second = order(&app.api, buyer, json!({"items": items})).await;
    pay(
        &app.api,
        buyer,
        second["order_no"].as_str().unwrap(),
        "pay-fraud-2",
    )
    .await;
    assert_eq!(my_commissions(&app.api, direct, "").await.len(), 1);
    assert_eq!(
        my_commissions(&app.api, &chain.members[1].0, "")
            .await
            .len(),
        2
    );

    // Ordering with one's own code is self-referral; joining again under one's own
    // downline (a cycle) is refused, and the chain is unchanged.
    let own = &chain.members[0];
    let selfish = app
        .api
        .post(
            "/orders",
            Some(&own.0.token),
            json!({"items": items, "referral_code": own.1["referral_code"]}),
        )
        .await;
    assert_eq!(selfish.error_code(), Some("SELF_REFERRAL"));
    let cycle = app
        .api
        .post(
            "/distributors",
            Some(&own.0.token),
            json!({"referral_code": chain.members[3].1["referral_code"]}),
        )
        .await;
    assert_eq!(cycle.status, 409);
    let top = app.api.get("/distributors/me", &own.0.token).await;
    assert_eq!(
        (&top.body["depth"], &top.body["downline_size"]),
        (&json!(0), &json!(3))
    );
    // The top buying through the bottom's code pays the bottom's uplines, never the top.
    let via_bottom = order(
        &app.api,
        &own.0,
        json!({"items": items, "referral_code": chain.members[3].1["referral_code"]}),
    )
    .await;
    let beneficiaries = via_bottom["beneficiaries"].as_array().unwrap();
    assert_eq!(beneficiaries.len(), 3);
    assert!(!beneficiaries.contains(&own.1["distributor_id"]));
}

#[tokio::test]
async fn commission_rules_are_the_super_admins_and_must_not_give_away_the_sale() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let rules = app.api.get("/admin/commission-rules", &root.token).await;
    assert_eq!(
        rules.body,
        json!({"levels": ["0.10", "0.05", "0.02"], "settlement_days": 7})
    );
    set_rules(&app.api, &root, &["0.2", "0.1", "0.05", "0.01"], 14).await;
    let rules = app.api.get("/admin/commission-rules", &root.token).await;
    assert_eq!(rules.body["levels"].as_array().unwrap().len(), 4);
    for bad in [
        json!({"levels": ["0.6", "0.5"], "settlement_days": 7}),
        json!({"levels": [], "settlement_days": 7}),
        json!({"levels": ["-0.1"], "settlement_days": 7}),
        json!({"levels": ["0.1"], "settlement_days": 4000}),
        json!({"levels": ["ten"], "settlement_days": 7}),
    ] {
        let reply = app
            .api
            .request(
                Method::PUT,
                "/admin/commission-rules",
                Some(&root.token),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
    }
    let patient = app.api.signup("patient").await;
    assert_eq!(
        app.api
            .get("/admin/commission-rules", &patient.token)
            .await
            .status,
        403
    );
    let settle = app
        .api
        .post("/admin/commissions/settle", Some(&patient.token), json!({}))
        .await;
    assert_eq!(settle.status, 403);
}
