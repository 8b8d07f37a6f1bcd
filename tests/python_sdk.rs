//! The official Qiniu Python SDK against the reference server: its room tokens (spaced JSON) are
//! accepted, and its `RtcServer` lists users, kicks and lists active rooms (form bodies, signed
//! `X-Qiniu-Date`, success only with `X-Reqid`). `scripts/test.sh` installs the SDK into `.venv`.

mod common;

use std::path::PathBuf;

use common::*;
use roomstorm::server::AppSettings;

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("ROOMSTORM_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with the qiniu SDK: run scripts/test.sh (it installs one into .venv) or set ROOMSTORM_PYTHON"
    );
    venv
}

async fn sdk(args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/qiniu_sdk.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qiniu_sdk.py {}: {stderr}", args[0]);
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn official_python_sdk_tokens_and_management_calls_work() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let k = keys();
    let sk = std::str::from_utf8(k.secret_key.expose_bytes())
        .unwrap()
        .to_owned();
    let minted = sdk(&[
        "mint",
        &k.access_key,
        &sk,
        APP,
        "sdk-room",
        "alice",
        "bobby",
    ])
    .await;
    let tokens: Vec<&str> = minted.lines().collect();
    assert_eq!(tokens.len(), 2);
    let payload = roomstorm::token::split(tokens[0]).unwrap().payload;
    let json = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE, payload).unwrap();
    assert!(
        String::from_utf8(json)
            .unwrap()
            .contains("\"appId\": \"app1\""),
        "the SDK's spaced JSON"
    );

    let (mut alice, _) = try_join(&server, tokens[0], "sdk-room", "alice").await;
    let (mut bobby, res) = try_join(&server, tokens[1], "sdk-room", "bobby").await;
    assert_eq!(res["code"], 0, "{res}");
    assert_eq!(player_ids(&res), vec!["alice"]);
    alice.expect("on-player-in").await;

    let host = server.base();
    let out = sdk(&[
        "manage",
        &k.access_key,
        &sk,
        &host,
        APP,
        "sdk-room",
        "bobby",
    ])
    .await;
    assert!(
        !out.contains(&sk),
        "the SDK output must not carry the secret"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["users_before"]["status"], 200, "{v}");
    assert_eq!(
        v["users_before"]["ret"],
        serde_json::json!({"users": [{"userId": "alice"}, {"userId": "bobby"}]})
    );
    assert!(
        v["users_before"]["reqid"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(v["kick"]["status"], 200, "{v}");
    assert_eq!(
        v["users_after"]["ret"],
        serde_json::json!({"users": [{"userId": "alice"}]})
    );
    assert_eq!(
        v["rooms"]["ret"],
        serde_json::json!({"end": true, "offset": 1, "rooms": ["sdk-room"]})
    );
    assert_eq!(
        v["rooms_prefix"]["ret"]["rooms"],
        serde_json::json!(["sdk-room"])
    );
    assert_eq!(v["create"]["status"], 200, "{v}");
    assert_eq!(v["create"]["ret"]["maxUsers"], 3);
    assert_eq!(v["create"]["ret"]["noAutoKickUser"], true);
    assert_eq!(v["get"]["ret"]["hub"], "sdk-hub");
    assert_eq!(v["forged"]["status"], 401);
    assert!(
        v["forged"]["ret"].is_null(),
        "the SDK reports the forged call as a failure"
    );

    let d = bobby.expect("disconnect").await;
    assert_eq!(
        (d["code"].as_u64(), d["kickedid"].as_str()),
        (Some(10006), Some("bobby"))
    );
    assert_eq!(alice.expect("on-player-out").await["playerid"], "bobby");
    server.stop().await;
}
