use medrt_tests::spawn_app;
use serde_json::json;

#[tokio::test]
async fn the_super_admin_adds_products_and_everyone_signed_in_sees_those_on_sale() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let added = app
        .api
        .post(
            "/admin/products",
            Some(&root.token),
            json!({"name": " BRCA1/2 genetic test ", "price": "1999.9", "category": "genetic_test"}),
        )
        .await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(
        (added.body["name"].as_str(), added.body["price"].as_str()),
        (Some("BRCA1/2 genetic test"), Some("1999.90"))
    );
    let hidden = app
        .api
        .post(
            "/admin/products",
            Some(&root.token),
            json!({"name": "old glucometer", "price": "99", "category": "medical_device", "active": false}),
        )
        .await;
    assert_eq!(hidden.status, 201);

    let patient = app.api.signup("patient").await;
    let listed = app.api.get("/products", &patient.token).await;
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["category"], "genetic_test");
    assert_eq!(items[0]["price"], "1999.90");
}

#[tokio::test]
async fn only_the_super_admin_adds_products_and_bad_ones_are_refused() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let patient = app.api.signup("patient").await;
    let product = json!({"name": "aspirin", "price": "9.90", "category": "medicine"});
    assert_eq!(
        app.api
            .post("/admin/products", Some(&patient.token), product.clone())
            .await
            .status,
        403
    );
    assert_eq!(
        app.api.post("/admin/products", None, product).await.status,
        401
    );
    for bad in [
        json!({"name": "aspirin", "price": "-1", "category": "medicine"}),
        json!({"name": "aspirin", "price": "1.001", "category": "medicine"}),
        json!({"name": "  ", "price": "1", "category": "medicine"}),
        json!({"name": "aspirin", "price": "1", "category": "snacks"}),
    ] {
        let reply = app
            .api
            .post("/admin/products", Some(&root.token), bad.clone())
            .await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
    }
}

#[tokio::test]
async fn coupons_of_every_kind_are_created_once_and_bad_ones_refused() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    for coupon in [
        json!({"code": "FIVE-OFF", "kind": "fixed", "value": "5"}),
        json!({"code": "TENPCT", "kind": "percent", "value": "12.5", "per_user_limit": 1, "total_limit": 100}),
        json!({"code": "MAN100JIAN20", "kind": "threshold", "value": "20", "threshold": "100"}),
    ] {
        let reply = app
            .api
            .post("/admin/coupons", Some(&root.token), coupon.clone())
            .await;
        assert_eq!(reply.status, 201, "{coupon}: {:?}", reply.body);
        assert_eq!(reply.body["code"], coupon["code"]);
    }
    let again = app
        .api
        .post(
            "/admin/coupons",
            Some(&root.token),
            json!({"code": "FIVE-OFF", "kind": "fixed", "value": "1"}),
        )
        .await;
    assert_eq!(again.status, 409);
    for bad in [
        json!({"code": "lower", "kind": "fixed", "value": "5"}),
        json!({"code": "PCT", "kind": "percent", "value": "101"}),
        json!({"code": "NOTHRESH", "kind": "threshold", "value": "5"}),
        json!({"code": "WHAT", "kind": "bogo", "value": "5"}),
        json!({"code": "BACKWARDS", "kind": "fixed", "value": "5", "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z"}),
    ] {
        let reply = app
            .api
            .post("/admin/coupons", Some(&root.token), bad.clone())
            .await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
    }
    let patient = app.api.signup("patient").await;
    let denied = app
        .api
        .post(
            "/admin/coupons",
            Some(&patient.token),
            json!({"code": "MINE", "kind": "fixed", "value": "5"}),
        )
        .await;
    assert_eq!(denied.status, 403);
}
