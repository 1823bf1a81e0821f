use medrt_tests::client::Account;
use medrt_tests::spawn_app;
use serde_json::{Value, json};

async fn join(app: &medrt_tests::TestApp, who: &Account, upline: Option<&str>) -> Value {
    let body = match upline {
        Some(code) => json!({"referral_code": code}),
        None => json!({}),
    };
    let reply = app.api.post("/distributors", Some(&who.token), body).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn a_four_level_chain_links_each_distributor_to_its_upline_and_downline() {
    let app = spawn_app().await;
    let mut accounts = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    for level in 0..4 {
        let who = app.api.signup("patient").await;
        let joined = join(&app, &who, codes.last().map(String::as_str)).await;
        let code = joined["referral_code"].as_str().unwrap().to_owned();
        assert_eq!(code.len(), 8);
        assert!(
            joined["referral_link"].as_str().unwrap().ends_with(&code),
            "level {level}: {joined}"
        );
        codes.push(code);
        accounts.push((who, joined));
    }
    let top = &accounts[0].0;
    let me = app.api.get("/distributors/me", &top.token).await;
    assert_eq!(
        (me.body["depth"].as_u64(), me.body["downline_size"].as_u64()),
        (Some(0), Some(3))
    );
    let downline = app
        .api
        .get("/distributors/me/downline?limit=2", &top.token)
        .await;
    let first: Vec<u64> = downline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["level"].as_u64().unwrap())
        .collect();
    assert_eq!(first, [1, 2]);
    let cursor = downline.body["next_cursor"].as_str().unwrap();
    let rest = app
        .api
        .get(
            &format!("/distributors/me/downline?limit=2&cursor={cursor}"),
            &top.token,
        )
        .await;
    assert_eq!(rest.body["items"][0]["level"], 3);
    assert!(rest.body["next_cursor"].is_null());

    let bottom = app.api.get("/distributors/me", &accounts[3].0.token).await;
    assert_eq!(bottom.body["depth"], 3);
    assert_eq!(bottom.body["upline_id"], accounts[2].1["distributor_id"]);
    let empty = app
        .api
        .get("/distributors/me/downline", &accounts[3].0.token)
        .await;
    assert_eq!(empty.body["items"], json!([]));
}

#[tokio::test]
async fn joining_twice_or_under_a_bad_code_is_refused_and_non_members_see_404() {
    let app = spawn_app().await;
    let who = app.api.signup("patient").await;
    assert_eq!(
        app.api.get("/distributors/me", &who.token).await.status,
        404
    );
    join(&app, &who, None).await;
    let again = app
        .api
        .post("/distributors", Some(&who.token), json!({}))
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);

    let other = app.api.signup("patient").await;
    let unknown = app
        .api
        .post(
            "/distributors",
            Some(&other.token),
            json!({"referral_code": "ZZZZ2222"}),
        )
        .await;
    assert_eq!(
        (
            unknown.status.as_u16(),
            unknown.body["error"]["code"].as_str()
        ),
        (400, Some("UNKNOWN_REFERRAL_CODE"))
    );
    let malformed = app
        .api
        .post(
            "/distributors",
            Some(&other.token),
            json!({"referral_code": "not a code!"}),
        )
        .await;
    assert_eq!(malformed.body["error"]["code"], "INVALID_REFERRAL_CODE");
    assert_eq!(
        app.api.post("/distributors", None, json!({})).await.status,
        401
    );
}

#[tokio::test]
async fn the_qr_code_png_decodes_to_the_referral_link() {
    let app = spawn_app().await;
    let who = app.api.signup("patient").await;
    let joined = join(&app, &who, None).await;
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/distributors/me/qr.png", app.api.base()))
        .bearer_auth(&who.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, joined["referral_link"].as_str().unwrap());
}

#[tokio::test]
async fn registering_with_a_referral_code_binds_the_new_user_to_that_distributor() {
    let app = spawn_app().await;
    let distributor = app.api.signup("distributor").await;
    let code = join(&app, &distributor, None).await["referral_code"]
        .as_str()
        .unwrap()
        .to_owned();
    for (i, given) in [code.to_lowercase(), format!(" {code} ")]
        .iter()
        .enumerate()
    {
        let reply = app
            .api
            .post(
                "/auth/register",
                None,
                json!({"username": format!("referred{i}"), "password": "a long enough password", "role": "patient", "referral_code": given}),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
    }
    let me = app.api.get("/distributors/me", &distributor.token).await;
    assert_eq!(me.body["referred_users"], 2);
    let unknown = app
        .api
        .post(
            "/auth/register",
            None,
            json!({"username": "nobodys", "password": "a long enough password", "role": "patient", "referral_code": "ZZZZ2222"}),
        )
        .await;
    assert_eq!(unknown.body["error"]["code"], "UNKNOWN_REFERRAL_CODE");
}
