//! Management API v3 with Qiniu Mac auth: every route with a valid signature, and forged,
//! missing, stale or tampered signatures refused.

mod common;

use common::*;
use roomstorm::codes;
use roomstorm::credentials::KeyPair;
use roomstorm::server::AppSettings;

#[tokio::test]
async fn app_crud_with_form_and_json_bodies() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let k = keys();
    let form = (
        "application/x-www-form-urlencoded",
        &b"hub=hub1&title=demo&maxUsers=2&noAutoKickUser=True"[..],
    );
    let created = admin(&server, "POST", "/v3/apps", Some(form), &k).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.header("x-reqid").is_some());
    let app = created.json();
    let id = app["appId"].as_str().unwrap().to_owned();
    assert_eq!(
        (app["hub"].as_str(), app["title"].as_str()),
        (Some("hub1"), Some("demo"))
    );
    assert_eq!(
        (app["maxUsers"].as_u64(), app["noAutoKickUser"].as_bool()),
        (Some(2), Some(true))
    );
    assert!(app["createdAt"].as_str().unwrap().ends_with('Z'));

    let got = admin(&server, "GET", &format!("/v3/apps/{id}"), None, &k)
        .await
        .json();
    assert_eq!(got["appId"], id.as_str());
    let list = admin(&server, "GET", "/v3/apps", None, &k).await.json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["appId"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&APP) && ids.contains(&id.as_str()), "{ids:?}");

    let json = (
        "application/json",
        &br#"{"maxUsers":1,"noAutoKickUser":false,"title":"renamed"}"#[..],
    );
    let updated = admin(&server, "POST", &format!("/v3/apps/{id}"), Some(json), &k)
        .await
        .json();
    assert_eq!(
        (updated["maxUsers"].as_u64(), updated["title"].as_str()),
        (Some(1), Some("renamed"))
    );

    assert_eq!(
        admin(&server, "DELETE", &format!("/v3/apps/{id}"), None, &k)
            .await
            .status,
        200
    );
    let gone = admin(&server, "GET", &format!("/v3/apps/{id}"), None, &k).await;
    assert_eq!(
        (gone.status, gone.json()["error"].as_str()),
        (612, Some("app not found"))
    );
    assert_eq!(
        admin(
            &server,
            "POST",
            "/v3/apps",
            Some(("application/json", b"{}")),
            &k
        )
        .await
        .status,
        400
    );
    server.stop().await;
}

#[tokio::test]
async fn capacity_updates_apply_to_the_next_join() {
    let server = TestServer::with_app(AppSettings {
        max_users: 10,
        ..AppSettings::new(APP)
    })
    .await;
    let (_a, _) = join(&server, "room-cap", "alice").await;
    let body = ("application/json", &br#"{"maxUsers":1}"#[..]);
    assert_eq!(
        admin(
            &server,
            "POST",
            &format!("/v3/apps/{APP}"),
            Some(body),
            &keys()
        )
        .await
        .status,
        200
    );
    let (_b, res) = try_join(
        &server,
        &room_token("room-cap", "bobby"),
        "room-cap",
        "bobby",
    )
    .await;
    assert_eq!(res["code"], codes::ROOM_FULL);
    server.stop().await;
}

#[tokio::test]
async fn users_kick_and_active_rooms() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let k = keys();
    let (mut a, _) = join(&server, "room-a1", "alice").await;
    let (mut b, _) = join(&server, "room-a1", "bobby").await;
    let (_c, _) = join(&server, "room-b1", "carol").await;
    a.expect("on-player-in").await;
    let users = admin(
        &server,
        "GET",
        &format!("/v3/apps/{APP}/rooms/room-a1/users"),
        None,
        &k,
    )
    .await
    .json();
    assert_eq!(
        users,
        serde_json::json!({"users": [{"userId": "alice"}, {"userId": "bobby"}]})
    );

    let rooms = admin(&server, "GET", &format!("/v3/apps/{APP}/rooms"), None, &k)
        .await
        .json();
    assert_eq!(
        rooms,
        serde_json::json!({"end": true, "offset": 2, "rooms": ["room-a1", "room-b1"]})
    );
    let page = admin(
        &server,
        "GET",
        &format!("/v3/apps/{APP}/rooms?prefix=room-&offset=1&limit=1"),
        None,
        &k,
    )
    .await
    .json();
    assert_eq!(
        page,
        serde_json::json!({"end": true, "offset": 2, "rooms": ["room-b1"]})
    );
    let first = admin(
        &server,
        "GET",
        &format!("/v3/apps/{APP}/rooms?limit=1"),
        None,
        &k,
    )
    .await
    .json();
    assert_eq!(
        first,
        serde_json::json!({"end": false, "offset": 1, "rooms": ["room-a1"]})
    );
    let prefixed = admin(
        &server,
        "GET",
        &format!("/v3/apps/{APP}/rooms?prefix=room-b"),
        None,
        &k,
    )
    .await
    .json();
    assert_eq!(prefixed["rooms"], serde_json::json!(["room-b1"]));

    let kick = admin(
        &server,
        "DELETE",
        &format!("/v3/apps/{APP}/rooms/room-a1/users/bobby"),
        None,
        &k,
    )
    .await;
    assert_eq!(kick.status, 200, "{}", kick.body);
    let d = b.expect("disconnect").await;
    assert_eq!(
        (d["code"].as_u64(), d["kickedid"].as_str()),
        (Some(10006), Some("bobby"))
    );
    assert_eq!(a.expect("on-player-out").await["playerid"], "bobby");
    let again = admin(
        &server,
        "DELETE",
        &format!("/v3/apps/{APP}/rooms/room-a1/users/bobby"),
        None,
        &k,
    )
    .await;
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (612, Some("user not found"))
    );
    let inactive = admin(
        &server,
        "DELETE",
        &format!("/v3/apps/{APP}/rooms/nowhere/users/bobby"),
        None,
        &k,
    )
    .await;
    assert_eq!(
        (inactive.status, inactive.json()["error"].as_str()),
        (615, Some("room not active"))
    );
    let no_app = admin(&server, "GET", "/v3/apps/ghost/rooms", None, &k).await;
    assert_eq!(no_app.status, 612);
    server.stop().await;
}

#[tokio::test]
async fn forged_missing_and_stale_signatures_are_refused() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let forged = KeyPair::new("test-ak", "not-the-secret");
    let ans = admin(&server, "GET", "/v3/apps", None, &forged).await;
    assert_eq!(ans.status, 401);
    assert!(ans.header("x-reqid").is_some());
    assert!(!ans.body.contains("test-secret-key-never-printed"));
    let unknown = KeyPair::new("someone-else", "x");
    assert_eq!(
        admin(&server, "GET", "/v3/apps", None, &unknown)
            .await
            .status,
        401
    );
    assert_eq!(
        http(server.addr, "GET", "/v3/apps", &[], b"").await.status,
        401
    );
    // A signature over another body does not cover this one.
    let host = server.addr.to_string();
    let parts = roomstorm::mac::SignedParts {
        method: "POST",
        path_and_query: "/v3/apps",
        host: &host,
        content_type: Some("application/x-www-form-urlencoded"),
        qiniu_headers: vec![],
        body: b"hub=a",
    };
    let auth = roomstorm::mac::authorization(&keys(), &parts);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    assert_eq!(
        http(server.addr, "POST", "/v3/apps", &headers, b"hub=a")
            .await
            .status,
        200
    );
    assert_eq!(
        http(server.addr, "POST", "/v3/apps", &headers, b"hub=b")
            .await
            .status,
        401
    );
    // A date 20 minutes old is refused even with a valid signature.
    let old = roomstorm::mac::format_qiniu_date(roomstorm::token::unix_now() - 1200);
    let parts = roomstorm::mac::SignedParts {
        method: "GET",
        path_and_query: "/v3/apps",
        host: &host,
        content_type: None,
        qiniu_headers: vec![("X-Qiniu-Date", &old)],
        body: b"",
    };
    let auth = roomstorm::mac::authorization(&keys(), &parts);
    let stale = http(
        server.addr,
        "GET",
        "/v3/apps",
        &[("Authorization", &auth), ("X-Qiniu-Date", &old)],
        b"",
    )
    .await;
    assert_eq!(stale.status, 401);
    assert!(stale.body.contains("X-Qiniu-Date"), "{}", stale.body);
    server.stop().await;
}
