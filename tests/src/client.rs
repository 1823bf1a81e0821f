//! A small HTTP client for the medrt API.

use std::net::SocketAddr;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{ADMIN_PASSWORD, ADMIN_USER};

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub password: String,
    pub token: String,
}

/// A response: status and JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The contract's error code, when the body is an error.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

impl ApiClient {
    pub fn new(addr: SocketAddr) -> Self {
        Self::with_base(format!("http://{addr}"))
    }

    pub fn with_base(base: String) -> Self {
        Self {
            base,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, |r| {
            let r = match token {
                Some(t) => r.bearer_auth(t),
                None => r,
            };
            match body {
                Some(b) => r.json(&b),
                None => r,
            }
        })
        .await
    }

    /// Sends a request built by `build` on top of `method path`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Reply {
        self.try_send(method, path, build)
            .await
            .expect("request sent")
    }

    /// Like `send`, but a transport failure (the server died) is an `Err`, not a panic.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Reply, reqwest::Error> {
        self.send_to(format!("{}/api/v1{path}", self.base), method, build)
            .await
    }

    /// `GET` of an operations endpoint outside the API base path (`/healthz`, `/metrics`, ...).
    pub async fn ops(&self, path: &str) -> Reply {
        self.send_to(format!("{}{path}", self.base), Method::GET, |r| r)
            .await
            .expect("request sent")
    }

    async fn send_to(
        &self,
        url: String,
        method: Method,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Reply, reqwest::Error> {
        let response = build(self.http.request(method, url)).send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        Ok(Reply {
            status,
            body,
            headers,
        })
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Registers a fresh user of `role` and signs in.
    pub async fn signup(&self, role: &str) -> Account {
        self.create_account("/auth/register", None, role).await
    }

    /// A sub-account created by `parent`, signed in.
    pub async fn sub_account(&self, parent: &Account, role: &str) -> Account {
        self.create_account("/admin/sub-accounts", Some(&parent.token), role)
            .await
    }

    async fn create_account(&self, path: &str, token: Option<&str>, role: &str) -> Account {
        let username = format!(
            "{role}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let password = "correct horse battery".to_owned();
        let reply = self
            .post(
                path,
                token,
                json!({"username": username, "password": password, "role": role}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{path}: {:?}",
            reply.body
        );
        let id = reply.body["user_id"].as_str().expect("user_id").to_owned();
        let token = self.token(&username, &password).await;
        Account {
            id,
            username,
            password,
            token,
        }
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let reply = self.login(username, password).await;
        assert_eq!(reply.status, StatusCode::OK, "login: {:?}", reply.body);
        reply.body["token"].as_str().expect("token").to_owned()
    }

    /// The bootstrapped super_admin.
    pub async fn super_admin(&self) -> Account {
        let token = self.token(ADMIN_USER, ADMIN_PASSWORD).await;
        let me = self.get("/me", &token).await;
        Account {
            id: me.body["user_id"].as_str().expect("id").to_owned(),
            username: ADMIN_USER.into(),
            password: ADMIN_PASSWORD.into(),
            token,
        }
    }
}
