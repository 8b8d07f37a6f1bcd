//! `roomstorm token mint | verify | decode`.

use std::io::Read as _;

use crate::cli::{DecodeArgs, MintArgs, TokenCommand, VerifyArgs};
use crate::error::CommandError;
use crate::token::{self, RoomAccess, TokenError};

/// Runs one token subcommand.
pub fn run(cmd: TokenCommand) -> Result<(), CommandError> {
    match cmd {
        TokenCommand::Mint(args) => mint(args),
        TokenCommand::Verify(args) => verify(args),
        TokenCommand::Decode(args) => decode(args),
    }
}

fn read_token(arg: &str) -> Result<String, CommandError> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).map_err(|e| {
        CommandError::InvalidInput(format!("cannot read the token from stdin: {e}"))
    })?;
    Ok(s.trim().to_owned())
}

fn mint(args: MintArgs) -> Result<(), CommandError> {
    let keys = args.keys.resolve()?;
    let access = RoomAccess {
        app_id: args.app,
        room_name: args.room,
        user_id: args.user,
        expire_at: args
            .expire_at
            .unwrap_or_else(|| token::unix_now() + args.ttl.as_secs()),
        permission: args.permission,
    };
    if let Err(e) = token::check_names(&access) {
        eprintln!("warning: {e}; servers following the documented rules will answer 10001");
    }
    println!("{}", token::mint(&keys, &access));
    Ok(())
}

fn describe(access: &RoomAccess, now: u64) -> String {
    let state = if access.expire_at <= now {
        "expired"
    } else {
        "valid until"
    };
    format!(
        "app:        {}\nroom:       {}\nuser:       {}\npermission: {}\nexpires:    {} {} (unix {})",
        access.app_id,
        access.room_name,
        access.user_id,
        serde_json::to_value(access.permission)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        state,
        token::format_unix(access.expire_at),
        access.expire_at
    )
}

fn verify(args: VerifyArgs) -> Result<(), CommandError> {
    let keys = args.keys.resolve()?;
    let raw = read_token(&args.token)?;
    let now = args.at.unwrap_or_else(token::unix_now);
    let lookup = |ak: &str| (ak == keys.access_key).then_some(&keys.secret_key);
    match token::verify(&raw, lookup, now) {
        Ok(access) => {
            println!("valid\n{}", describe(&access, now));
            Ok(())
        }
        Err(e @ TokenError::Malformed(_)) => Err(CommandError::InvalidInput(e.to_string())),
        Err(e) => Err(CommandError::Failed(format!(
            "refused with {}: {e}",
            e.code()
        ))),
    }
}

fn decode(args: DecodeArgs) -> Result<(), CommandError> {
    let raw = read_token(&args.token)?;
    let parts = token::split(&raw).map_err(|e| CommandError::InvalidInput(e.to_string()))?;
    let access =
        token::decode_payload(&parts).map_err(|e| CommandError::InvalidInput(e.to_string()))?;
    let signature = match args.keys.resolve_optional()? {
        None => "not checked (no keys given)".to_owned(),
        Some(keys) if keys.access_key != parts.access_key => {
            format!(
                "not checked (token is for access key {:?}, keys given are for {:?})",
                parts.access_key, keys.access_key
            )
        }
        Some(keys)
            if token::signature_matches(
                &keys.secret_key,
                parts.payload.as_bytes(),
                parts.signature,
            ) =>
        {
            "valid".to_owned()
        }
        Some(_) => "INVALID".to_owned(),
    };
    let now = token::unix_now();
    if args.json {
        let out = serde_json::json!({
            "accessKey": parts.access_key,
            "roomAccess": access,
            "expired": access.expire_at <= now,
            "signature": signature,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
    } else {
        println!(
            "access key: {}\n{}\nsignature:  {signature}",
            parts.access_key,
            describe(&access, now)
        );
        if let Err(e) = token::check_names(&access) {
            println!("names:      {e}");
        }
    }
    Ok(())
}
