//! Signing in and out, and who am I.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;

use crate::{credentials, directory, session};

pub(crate) async fn login(identity_url: &str, username: &str, json: bool) -> anyhow::Result<()> {
    let password = password()?;
    let mut auth = AuthServiceClient::new(session::connect(identity_url).await?);
    let tokens = auth
        .login(id::LoginRequest {
            username: username.to_owned(),
            password,
        })
        .await?
        .into_inner();
    let credentials = credentials::Credentials::new(identity_url, username, tokens);
    credentials::save(&credentials)?;
    if json {
        println!("{}", serde_json::json!({ "signed_in": username }));
    } else {
        println!("signed in as {username}");
    }
    Ok(())
}

/// From LIENLAC_PASSWORD, a prompt without echo, or standard input.
fn password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("LIENLAC_PASSWORD") {
        return Ok(password);
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprint!("password: ");
        echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if interactive {
        echo(true);
        eprintln!();
    }
    read.context("reading the password")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password given");
    Ok(password)
}

/// Turns the terminal's echo off or on, so a typed password is not shown.
fn echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

pub(crate) async fn whoami(json: bool) -> anyhow::Result<()> {
    let credentials = session::current().await?;
    let me = directory::Directory::connect(&credentials)
        .await?
        .who_am_i()
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&me)?);
        return Ok(());
    }
    let account = me.account.unwrap_or_default();
    println!("{} (account {})", account.username, account.id);
    match me.person {
        Some(person) => println!("{}, {}", person.full_name, kind_name(person.kind)),
        None => println!("platform account, no person"),
    }
    for role in me.roles {
        let name = id::Role::try_from(role.role).map_or("unknown role", |r| r.as_str_name());
        let scope =
            id::ScopeKind::try_from(role.scope_kind).map_or("unknown scope", |s| s.as_str_name());
        println!(
            "  {:<28} {:<22} {}",
            name.trim_start_matches("ROLE_").to_lowercase(),
            scope.trim_start_matches("SCOPE_KIND_").to_lowercase(),
            role.scope_id
        );
    }
    Ok(())
}

fn kind_name(kind: i32) -> &'static str {
    match id::PersonKind::try_from(kind) {
        Ok(id::PersonKind::Staff) => "staff",
        Ok(id::PersonKind::Guardian) => "guardian",
        Ok(id::PersonKind::Student) => "student",
        _ => "person",
    }
}

pub(crate) async fn logout() -> anyhow::Result<()> {
    let Some(credentials) = credentials::load()? else {
        println!("not signed in");
        return Ok(());
    };
    // Ending the session on the server is best effort: the local one goes anyway.
    if let Ok(channel) = session::connect(&credentials.identity_url).await {
        let _ = AuthServiceClient::new(channel)
            .logout(id::LogoutRequest {
                refresh_token: credentials.refresh_token.clone(),
            })
            .await;
    }
    credentials::forget()?;
    println!("signed out");
    Ok(())
}
