use medrt_tests::client::{Account, ApiClient};
use medrt_tests::spawn_app;
use serde_json::{Value, json};

pub async fn product(api: &ApiClient, root: &Account, price: &str) -> String {
    let reply = api
        .post(
            "/admin/products",
            Some(&root.token),
            json!({"name": "glucose meter", "price": price, "category": "medical_device"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["product_id"].as_str().unwrap().to_owned()
}

pub async fn order(api: &ApiClient, buyer: &Account, body: Value) -> Value {
    let reply = api.post("/orders", Some(&buyer.token), body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

async fn coupon(api: &ApiClient, root: &Account, body: Value) {
    let reply = api.post("/admin/coupons", Some(&root.token), body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
}

#[tokio::test]
async fn orders_are_priced_with_each_coupon_kind_and_every_bad_coupon_is_refused() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let buyer = app.api.signup("patient").await;
    let meter = product(&app.api, &root, "19.99").await;
    let items = json!([{"product_id": meter, "qty": 3}]);
    let plain = order(&app.api, &buyer, json!({"items": items})).await;
    assert_eq!(
        (&plain["subtotal"], &plain["discount"], &plain["total"]),
        (&json!("59.97"), &json!("0.00"), &json!("59.97"))
    );
    assert!(plain["order_no"].as_str().unwrap().starts_with("MO"));

    coupon(
        &app.api,
        &root,
        json!({"code": "FIVE", "kind": "fixed", "value": "5"}),
    )
    .await;
    coupon(
        &app.api,
        &root,
        json!({"code": "PCT15", "kind": "percent", "value": "15"}),
    )
    .await;
    coupon(
        &app.api,
        &root,
        json!({"code": "MAN50JIAN10", "kind": "threshold", "threshold": "50", "value": "10"}),
    )
    .await;
    coupon(
        &app.api,
        &root,
        json!({"code": "BIG", "kind": "fixed", "value": "500"}),
    )
    .await;
    for (code, discount, total) in [
        ("FIVE", "5.00", "54.97"),
        // 15 % of 59.97 = 8.9955, rounded half away from zero.
        ("pct15", "9.00", "50.97"),
        ("MAN50JIAN10", "10.00", "49.97"),
        // A discount never exceeds the subtotal.
        ("BIG", "59.97", "0.00"),
    ] {
        let o = order(
            &app.api,
            &buyer,
            json!({"items": items, "coupon_code": code}),
        )
        .await;
        assert_eq!(
            (&o["discount"], &o["total"]),
            (&json!(discount), &json!(total)),
            "{code}"
        );
    }

    coupon(
        &app.api,
        &root,
        json!({"code": "OLD", "kind": "fixed", "value": "1",
        "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2021-01-01T00:00:00Z"}),
    )
    .await;
    coupon(
        &app.api,
        &root,
        json!({"code": "LATER", "kind": "fixed", "value": "1",
        "valid_from": "2099-01-01T00:00:00Z"}),
    )
    .await;
    coupon(
        &app.api,
        &root,
        json!({"code": "ONCE", "kind": "fixed", "value": "1", "total_limit": 1}),
    )
    .await;
    coupon(
        &app.api,
        &root,
        json!({"code": "MINE1", "kind": "fixed", "value": "1", "per_user_limit": 1}),
    )
    .await;
    order(
        &app.api,
        &buyer,
        json!({"items": items, "coupon_code": "ONCE"}),
    )
    .await;
    order(
        &app.api,
        &buyer,
        json!({"items": items, "coupon_code": "MINE1"}),
    )
    .await;
    let other = app.api.signup("patient").await;
    // Someone else may still use a per-user coupon.
    order(
        &app.api,
        &other,
        json!({"items": items, "coupon_code": "MINE1"}),
    )
    .await;
    let one = json!([{"product_id": meter, "qty": 1}]);
    for (body, status, code) in [
        (
            json!({"items": items, "coupon_code": "OLD"}),
            400,
            "COUPON_EXPIRED",
        ),
        (
            json!({"items": items, "coupon_code": "LATER"}),
            400,
            "COUPON_NOT_YET_VALID",
        ),
        (
            json!({"items": items, "coupon_code": "ONCE"}),
            409,
            "COUPON_EXHAUSTED",
        ),
        (
            json!({"items": items, "coupon_code": "MINE1"}),
            409,
            "COUPON_EXHAUSTED",
        ),
        (
            json!({"items": one, "coupon_code": "MAN50JIAN10"}),
            400,
            "COUPON_BELOW_THRESHOLD",
        ),
        (
            json!({"items": items, "coupon_code": "NOPE"}),
            400,
            "UNKNOWN_COUPON",
        ),
        // Stacking: one coupon per order, a list is not accepted in any shape.
        (
            json!({"items": items, "coupon_code": ["FIVE", "PCT15"]}),
            400,
            "INVALID_JSON",
        ),
        (
            json!({"items": items, "coupon_code": "FIVE", "coupon_codes": ["PCT15"]}),
            400,
            "INVALID_JSON",
        ),
        (json!({"items": []}), 400, "VALIDATION_FAILED"),
        (
            json!({"items": [{"product_id": meter, "qty": 0}]}),
            400,
            "VALIDATION_FAILED",
        ),
        (
            json!({"items": [{"product_id": meter, "qty": -1}]}),
            400,
            "INVALID_JSON",
        ),
        (
            json!({"items": [{"product_id": uuid::Uuid::now_v7(), "qty": 1}]}),
            400,
            "UNKNOWN_PRODUCT",
        ),
        (
            json!({"items": items, "referral_code": "NOTACODE!"}),
            400,
            "INVALID_REFERRAL_CODE",
        ),
        (
            json!({"items": items, "referral_code": "ABCDEFGH"}),
            400,
            "UNKNOWN_REFERRAL_CODE",
        ),
    ] {
        let reply = app
            .api
            .post("/orders", Some(&buyer.token), body.clone())
            .await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (status, Some(code)),
            "{body}: {:?}",
            reply.body
        );
    }
}

#[tokio::test]
async fn an_order_is_paid_once_per_payment_ref_and_refunds_never_exceed_what_was_paid() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let buyer = app.api.signup("patient").await;
    let meter = product(&app.api, &root, "100").await;
    let created = order(
        &app.api,
        &buyer,
        json!({"items": [{"product_id": meter, "qty": 1}]}),
    )
    .await;
    let no = created["order_no"].as_str().unwrap();
    let pay = |r: &'static str| {
        let path = format!("/orders/{no}/pay");
        let token = buyer.token.clone();
        let api = &app.api;
        async move {
            api.post(&path, Some(&token), json!({"payment_ref": r}))
                .await
        }
    };
    // Nothing to refund before payment.
    let early = app
        .api
        .post(
            &format!("/orders/{no}/refund"),
            Some(&root.token),
            json!({}),
        )
        .await;
    assert_eq!(early.error_code(), Some("ORDER_NOT_PAID"));

    let paid = pay("wx-0001").await;
    assert_eq!(
        (paid.status.as_u16(), &paid.body["status"]),
        (200, &json!("paid"))
    );
    let again = pay("wx-0001").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["paid_at"], paid.body["paid_at"]);
    let other_ref = pay("wx-0002").await;
    assert_eq!(
        (other_ref.status.as_u16(), other_ref.error_code()),
        (409, Some("ORDER_ALREADY_PAID"))
    );

    // The same provider confirmation cannot pay a second order.
    let second = order(
        &app.api,
        &buyer,
        json!({"items": [{"product_id": meter, "qty": 1}]}),
    )
    .await;
    let reused = app
        .api
        .post(
            &format!("/orders/{}/pay", second["order_no"].as_str().unwrap()),
            Some(&buyer.token),
            json!({"payment_ref": "wx-0001"}),
        )
        .await;
    assert_eq!(
        (reused.status.as_u16(), reused.error_code()),
        (409, Some("PAYMENT_REF_USED"))
    );

    // Someone else's order is not there; refunds are the super_admin's.
    let stranger = app.api.signup("patient").await;
    let theirs = app
        .api
        .post(
            &format!("/orders/{no}/pay"),
            Some(&stranger.token),
            json!({"payment_ref": "x"}),
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(
        app.api
            .get(&format!("/orders/{no}"), &stranger.token)
            .await
            .status,
        404
    );
    assert_eq!(
        app.api.get("/orders/MO-garbage", &buyer.token).await.status,
        404
    );
    let not_admin = app
        .api
        .post(
            &format!("/orders/{no}/refund"),
            Some(&buyer.token),
            json!({}),
        )
        .await;
    assert_eq!(not_admin.status, 403);

    let refund = |body: Value| {
        let path = format!("/orders/{no}/refund");
        let token = root.token.clone();
        let api = &app.api;
        async move { api.post(&path, Some(&token), body).await }
    };
    let too_much = refund(json!({"amount": "100.01"})).await;
    assert_eq!(
        (too_much.status.as_u16(), too_much.error_code()),
        (409, Some("REFUND_TOO_LARGE"))
    );
    let part = refund(json!({"amount": "30", "refund_ref": "r-1"})).await;
    assert_eq!(
        (&part.body["status"], &part.body["refunded"]),
        (&json!("partially_refunded"), &json!("30.00"))
    );
    let retried = refund(json!({"amount": "30", "refund_ref": "r-1"})).await;
    assert_eq!(
        retried.body["refunded"], "30.00",
        "a retried refund moves nothing"
    );
    let rest_too_much = refund(json!({"amount": "70.01"})).await;
    assert_eq!(rest_too_much.error_code(), Some("REFUND_TOO_LARGE"));
    let rest = refund(json!({})).await;
    assert_eq!(
        (&rest.body["status"], &rest.body["refunded"]),
        (&json!("refunded"), &json!("100.00"))
    );
    let nothing_left = refund(json!({"amount": "0.01"})).await;
    assert_eq!(nothing_left.error_code(), Some("ORDER_NOT_PAID"));
    let mine = app.api.get(&format!("/orders/{no}"), &buyer.token).await;
    assert_eq!(mine.body["status"], "refunded");
}
