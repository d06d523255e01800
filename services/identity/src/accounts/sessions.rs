//! Activation, sign-in, token refresh, sign-out and password changes.
//!
//! An unknown username, an account not yet activated and a wrong password all take
//! one password hash's time and give the same answer. Failed attempts count
//! towards a temporary lock; a locked account says so only to someone who knows
//! its password.

use kernel::auth::Caller;
use kernel::event_store::EventMeta;
use lienlac_proto::identity::v1::{AccountActivated, AccountLocked, AccountSignedIn, TokenPair};
use sqlx::PgConnection;

use super::{AccountRow, by_id, by_username, local_today};
use crate::Ctx;
use crate::error::{AppError, AppResult, bad_credentials};
use crate::events::{account_stream, emit};
use crate::passwords::activation_code_hash;
use crate::text;
use crate::tokens::Rotation;

fn account_meta(account: &AccountRow) -> EventMeta {
    let meta = EventMeta::for_command(Some(account.id.to_string()));
    match account.district_id {
        Some(district) => meta.in_tenant(district, account.school_id),
        None => meta,
    }
}

/// Counts a failed attempt; the last one allowed locks the account for a while.
async fn count_failure(ctx: &Ctx, conn: &mut PgConnection, account: &AccountRow) -> AppResult<()> {
    let failures = account.failed_logins + 1;
    if failures < ctx.settings.lockout_attempts {
        sqlx::query("UPDATE accounts SET failed_logins = $2 WHERE id = $1")
            .bind(account.id)
            .bind(failures)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let until = time::OffsetDateTime::now_utc() + ctx.settings.lockout_duration;
    sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = $2 WHERE id = $1")
        .bind(account.id)
        .bind(until)
        .execute(&mut *conn)
        .await?;
    let event = AccountLocked {
        account_id: account.id.to_string(),
        person_id: account
            .person_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        reason: "failed_logins".to_owned(),
        locked_until: until
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    emit(
        conn,
        &account_stream(account.id),
        &account_meta(account),
        &event,
    )
    .await
}

/// Records a successful sign-in: failures forgotten, one `AccountSignedIn` per
/// local day, and a new token pair.
async fn signed_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    account: &AccountRow,
) -> AppResult<TokenPair> {
    let today = local_today();
    sqlx::query("UPDATE accounts SET failed_logins = 0, locked_until = NULL, last_sign_in_date = $2 WHERE id = $1")
        .bind(account.id)
        .bind(today)
        .execute(&mut *conn)
        .await?;
    if account.last_sign_in_date != Some(today) {
        let event = AccountSignedIn {
            account_id: account.id.to_string(),
            person_id: account
                .person_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            date: today.to_string(),
        };
        emit(
            conn,
            &account_stream(account.id),
            &account_meta(account),
            &event,
        )
        .await?;
    }
    ctx.tokens
        .issue(conn, account.id, account.person_id, None)
        .await
}

fn locked() -> AppError {
    AppError::Rejected(
        "this account is locked; try again in a few minutes or ask the school's IT officer"
            .to_owned(),
    )
}

pub(crate) async fn login(ctx: &Ctx, username: &str, password: &str) -> AppResult<TokenPair> {
    let mut tx = ctx.pool.begin().await?;
    let account = by_username(&mut tx, &text::username(username)).await?;
    let hash = account.as_ref().and_then(|a| a.password_hash.as_deref());
    let matches = ctx.passwords.verify(password, hash).await?;
    let Some(account) = account else {
        return Err(bad_credentials());
    };
    if account.locked {
        return Err(if matches { locked() } else { bad_credentials() });
    }
    if !matches {
        count_failure(ctx, &mut tx, &account).await?;
        tx.commit().await?;
        return Err(bad_credentials());
    }
    let pair = signed_in(ctx, &mut tx, &account).await?;
    tx.commit().await?;
    Ok(pair)
}

pub(crate) async fn activate(
    ctx: &Ctx,
    username: &str,
    code: &str,
    new_password: &str,
) -> AppResult<TokenPair> {
    let wrong = || {
        AppError::Status(tonic::Status::unauthenticated(
            "wrong username or activation code",
        ))
    };
    let mut tx = ctx.pool.begin().await?;
    let Some(account) = by_username(&mut tx, &text::username(username)).await? else {
        return Err(wrong());
    };
    if account.locked {
        return Err(locked());
    }
    if account.status != "issued" {
        return Err(AppError::Rejected(
            "this account is already activated; sign in with its password".to_owned(),
        ));
    }
    if account.activation_code_hash.as_deref() != Some(activation_code_hash(code).as_slice()) {
        count_failure(ctx, &mut tx, &account).await?;
        tx.commit().await?;
        return Err(wrong());
    }
    if account.activation_expired {
        return Err(AppError::Rejected(
            "the activation code has expired; ask the school for a new one".to_owned(),
        ));
    }
    let hash = ctx.passwords.hash(new_password).await?;
    sqlx::query(
        "UPDATE accounts SET status = 'active', password_hash = $2, activation_code_hash = NULL, \
             activation_expires_at = NULL WHERE id = $1",
    )
    .bind(account.id)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    let event = AccountActivated {
        account_id: account.id.to_string(),
        person_id: account
            .person_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    };
    emit(
        &mut tx,
        &account_stream(account.id),
        &account_meta(&account),
        &event,
    )
    .await?;
    let pair = signed_in(ctx, &mut tx, &account).await?;
    tx.commit().await?;
    Ok(pair)
}

pub(crate) async fn refresh(ctx: &Ctx, refresh_token: &str) -> AppResult<TokenPair> {
    let mut tx = ctx.pool.begin().await?;
    let rotation = ctx.tokens.rotate(&mut tx, refresh_token).await?;
    tx.commit().await?;
    match rotation {
        Rotation::Rotated(pair) => Ok(pair),
        Rotation::Reused => Err(AppError::Status(tonic::Status::unauthenticated(
            "this refresh token was already used, so every session of that sign-in has ended; sign in again",
        ))),
    }
}

pub(crate) async fn logout(ctx: &Ctx, refresh_token: &str) -> AppResult<()> {
    let mut tx = ctx.pool.begin().await?;
    ctx.tokens.revoke(&mut tx, refresh_token).await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn change_password(
    ctx: &Ctx,
    caller: &Caller,
    current: &str,
    new_password: &str,
) -> AppResult<()> {
    let mut tx = ctx.pool.begin().await?;
    let account = by_id(&mut tx, caller.account_id).await?;
    if !ctx
        .passwords
        .verify(current, account.password_hash.as_deref())
        .await?
    {
        count_failure(ctx, &mut tx, &account).await?;
        tx.commit().await?;
        return Err(AppError::Status(tonic::Status::unauthenticated(
            "the current password is wrong",
        )));
    }
    let hash = ctx.passwords.hash(new_password).await?;
    sqlx::query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
        .bind(account.id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
