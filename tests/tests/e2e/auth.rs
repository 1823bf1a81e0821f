use jsonwebtoken::{EncodingKey, Header, encode};
use medrt_tests::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The secret in config/default.toml, which the test overlay keeps.
const TEST_SECRET: &str = "dev-only-secret-change-me-in-production";

async fn register(
    app: &medrt_tests::TestApp,
    username: &str,
    role: &str,
) -> medrt_tests::client::Reply {
    let body = json!({"username": username, "password": "password-1", "role": role});
    app.api.post("/auth/register", None, body).await
}

#[tokio::test]
async fn register_login_and_me() {
    let app = spawn_app().await;
    let reply = app
        .api
        .post("/auth/register", None, json!({"username": "Li_Wei", "password": "s3cret-pass", "role": "doctor", "email": "li@hospital.cn"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let user_id = reply.body["user_id"].as_str().unwrap().to_owned();

    let login = app.api.login("li_wei", "s3cret-pass").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["user_id"], user_id);
    assert_eq!(login.body["username"], "li_wei");
    assert_eq!(login.body["role"], "doctor");
    assert!(login.body["expires_at"].as_str().unwrap().ends_with('Z'));

    let me = app
        .api
        .get("/me", login.body["token"].as_str().unwrap())
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user_id"], user_id);
    assert_eq!(me.body["email"], "li@hospital.cn");
    assert_eq!(me.body["parent_user_id"], serde_json::Value::Null);
    assert_eq!(me.body["status"], "active");
    assert!(me.body.get("password_hash").is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_the_same_401() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;
    let wrong = app.api.login(&user.username, "not the password").await;
    let unknown = app.api.login("nobody_here", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body, unknown.body,
        "responses must not reveal which usernames exist"
    );
    assert_eq!(wrong.error_code(), Some("UNAUTHORIZED"));
}

#[tokio::test]
async fn duplicate_username_is_409_whatever_the_case() {
    let app = spawn_app().await;
    let body = json!({"username": "zhang", "password": "password-1", "role": "patient"});
    assert_eq!(
        app.api.post("/auth/register", None, body).await.status,
        StatusCode::CREATED
    );
    let again = app
        .api
        .post(
            "/auth/register",
            None,
            json!({"username": "ZHANG", "password": "password-2", "role": "doctor"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), Some("CONFLICT"));
}

#[tokio::test]
async fn self_registration_is_limited_to_three_roles() {
    let app = spawn_app().await;
    for role in ["patient", "doctor", "distributor"] {
        let reply = register(&app, &format!("r_{role}"), role).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{role}");
    }
    for role in ["admin", "super_admin"] {
        let reply = register(&app, &format!("r_{role}"), role).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{role}");
    }
    assert_eq!(
        register(&app, "r_x", "wizard").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_registration_input_is_400_with_a_reason() {
    let app = spawn_app().await;
    let cases = [
        json!({"username": "ab", "password": "password-1", "role": "patient"}),
        json!({"username": "okname", "password": "short", "role": "patient"}),
        json!({"username": "okname", "password": "password-1", "role": "patient", "email": "not-an-email"}),
        json!({"username": "okname", "password": "password-1", "role": "patient", "phone": "12"}),
        json!({"username": "okname", "password": "password-1", "role": "patient", "referral_code": "NOPE"}),
        json!({"username": "okname", "role": "patient"}),
        json!({"username": 5, "password": "password-1", "role": "patient"}),
    ];
    for body in cases {
        let reply = app.api.post("/auth/register", None, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}: {:?}",
            reply.body
        );
    }
    let not_json = app
        .api
        .send(Method::POST, "/auth/register", |r| {
            r.header("content-type", "application/json").body("{nope")
        })
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.error_code(), Some("INVALID_JSON"));
    let huge = app
        .api
        .send(Method::POST, "/auth/register", |r| {
            r.header("content-type", "application/json").body(format!(
                "{{\"username\":\"{}\"}}",
                "x".repeat(2 * 1024 * 1024)
            ))
        })
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn missing_expired_and_tampered_tokens_are_401() {
    let app = spawn_app().await;
    let user = app.api.signup("patient").await;

    let none = app.api.request(Method::GET, "/me", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    let mut tampered = user.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        app.api.get("/me", &tampered).await.status,
        StatusCode::UNAUTHORIZED
    );

    let forged_role = {
        let claims = json!({"sub": user.id, "role": "super_admin", "iat": 0, "exp": chrono::Utc::now().timestamp() + 600});
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(b"someone else's secret"),
        )
        .unwrap()
    };
    assert_eq!(
        app.api.get("/me", &forged_role).await.status,
        StatusCode::UNAUTHORIZED
    );

    let expired = {
        let now = chrono::Utc::now().timestamp();
        let claims =
            json!({"sub": user.id, "role": "patient", "iat": now - 7200, "exp": now - 3600});
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let reply = app.api.get("/me", &expired).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    let basic = app
        .api
        .send(Method::GET, "/me", |r| {
            r.header("authorization", "Basic abc")
        })
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_username_and_client() {
    let app = medrt_tests::TestApp::spawn(
        medrt_tests::TestBackend::new().await,
        &[("server.trust_forwarded_for", "true")],
    )
    .await;
    let user = app.api.signup("patient").await;
    let attempt = |client: &'static str, password: &'static str| {
        let api = app.api.clone();
        let username = user.username.clone();
        async move {
            api.send(Method::POST, "/auth/login", move |r| {
                r.header("x-forwarded-for", client)
                    .json(&json!({"username": username, "password": password}))
            })
            .await
        }
    };
    for _ in 0..10 {
        assert_eq!(
            attempt("203.0.113.7", "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = attempt("203.0.113.7", "wrong password").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), Some("RATE_LIMITED"));
    assert!(limited.headers.contains_key("retry-after"));
    // Even the right password waits out the window from that client...
    assert_eq!(
        attempt("203.0.113.7", "correct horse battery").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...while the same user from another client is not locked out.
    assert_eq!(
        attempt("198.51.100.1", "correct horse battery")
            .await
            .status,
        StatusCode::OK
    );
}
