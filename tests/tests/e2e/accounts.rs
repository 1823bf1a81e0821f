use medrt_tests::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn admins_create_and_list_their_sub_accounts() {
    let app = spawn_app().await;
    let root = app.api.super_admin().await;
    let admin = app.api.sub_account(&root, "admin").await;
    let doctor = app.api.sub_account(&admin, "doctor").await;

    let me = app.api.get("/me", &doctor.token).await;
    assert_eq!(me.body["parent_user_id"], admin.id);
    assert_eq!(me.body["role"], "doctor");

    for i in 0..3 {
        let reply = app
            .api
            .post("/admin/sub-accounts", Some(&admin.token), json!({"username": format!("nurse{i}"), "password": "nurse-password", "role": "patient"}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(reply.body["parent_user_id"], admin.id);
    }
    let first = app
        .api
        .get("/admin/sub-accounts?limit=2", &admin.token)
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let second = app
        .api
        .get(
            &format!("/admin/sub-accounts?limit=2&cursor={cursor}"),
            &admin.token,
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["next_cursor"], serde_json::Value::Null);
    let mut names: Vec<String> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second.body["items"].as_array().unwrap())
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        doctor.username.clone(),
        "nurse0".into(),
        "nurse1".into(),
        "nurse2".into(),
    ];
    expected.sort();
    assert_eq!(names, expected);

    let bad_cursor = app
        .api
        .get("/admin/sub-accounts?cursor=zzz", &admin.token)
        .await;
    assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);
    let bad_limit = app
        .api
        .get("/admin/sub-accounts?limit=-1", &admin.token)
        .await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn role_violations_are_403() {
    let app = spawn_app().await;
    let patient = app.api.signup("patient").await;
    let reply = app
        .api
        .post(
            "/admin/sub-accounts",
            Some(&patient.token),
            json!({"username": "sneaky", "password": "password-1", "role": "doctor"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.error_code(), Some("FORBIDDEN"));

    let root = app.api.super_admin().await;
    let admin = app.api.sub_account(&root, "admin").await;
    let escalate = app
        .api
        .post(
            "/admin/sub-accounts",
            Some(&admin.token),
            json!({"username": "another_admin", "password": "password-1", "role": "admin"}),
        )
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);

    let announce = app
        .api
        .post(
            "/admin/announcements",
            Some(&admin.token),
            json!({"title": "t", "body": "b"}),
        )
        .await;
    assert_eq!(announce.status, StatusCode::FORBIDDEN);
    let list = app.api.get("/admin/sub-accounts", &patient.token).await;
    assert_eq!(list.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn other_users_objects_are_404() {
    let app = spawn_app().await;
    let alice = app.api.signup("patient").await;
    let bob = app.api.signup("patient").await;
    assert_eq!(
        app.api
            .get(&format!("/users/{}", alice.id), &alice.token)
            .await
            .status,
        StatusCode::OK
    );
    let peek = app
        .api
        .get(&format!("/users/{}", alice.id), &bob.token)
        .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
    let missing = app
        .api
        .get(&format!("/users/{}", uuid::Uuid::now_v7()), &bob.token)
        .await;
    assert_eq!(
        peek.body, missing.body,
        "someone else's account looks exactly like a missing one"
    );
    assert_eq!(
        app.api.get("/users/not-a-uuid", &bob.token).await.status,
        StatusCode::NOT_FOUND
    );

    let root = app.api.super_admin().await;
    let admin_a = app.api.sub_account(&root, "admin").await;
    let admin_b = app.api.sub_account(&root, "admin").await;
    let child_a = app.api.sub_account(&admin_a, "doctor").await;
    assert_eq!(
        app.api
            .get(&format!("/users/{}", child_a.id), &admin_a.token)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.api
            .get(&format!("/users/{}", child_a.id), &admin_b.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api
            .get(
                &format!("/admin/users/{}/presence", child_a.id),
                &admin_b.token
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api
            .get(&format!("/users/{}", child_a.id), &root.token)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn contact_details_change_and_clear() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let set = app
        .api
        .patch(
            "/me",
            &user.token,
            json!({"email": "p@example.cn", "phone": "+8613800138000"}),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK);
    assert_eq!(set.body["email"], "p@example.cn");
    let clear = app
        .api
        .patch("/me", &user.token, json!({"email": null}))
        .await;
    assert_eq!(clear.body["email"], serde_json::Value::Null);
    assert_eq!(clear.body["phone"], "+8613800138000");
    assert_eq!(
        app.api
            .patch("/me", &user.token, json!({"email": "bad"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.api.patch("/me", &user.token, json!({})).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_4xx() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let missing = app.api.get("/no/such/route", &user.token).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), Some("NOT_FOUND"));
    let wrong_method = app
        .api
        .request(Method::DELETE, "/me", Some(&user.token), None)
        .await;
    assert!(
        wrong_method.status.is_client_error(),
        "{}",
        wrong_method.status
    );
}
