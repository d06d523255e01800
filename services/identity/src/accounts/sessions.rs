//! Activation, sign-in, token refresh, sign-out and password changes. Who is let
//! in, what a refusal says and how a failure counts towards a lock are the rules of
//! `sign_in_rules.rs`; these handlers find what the rules need, follow the verdict
//! and write it. An unknown username takes one password hash's time like any other.

use kernel::auth::Caller;
use kernel::event_store::EventMeta;
use lienlac_proto::identity::v1::TokenPair;
use lienlac_proto::identity::v2::{AccountActivated, AccountLocked, AccountSignedIn};
use sqlx::PgConnection;

use super::sign_in_rules::{self, Failure, Refusal, Verdict};
use super::{AccountRow, by_id, by_username};
use crate::Ctx;
use crate::account_state::LOCKED_BY_SIGN_INS;
use crate::error::{AppError, AppResult, bad_credentials};
use crate::events::account_stream;
use crate::text;
use crate::tokens::Rotation;
use crate::write_model::emit;
use kernel::grpc::invalid_argument;

fn account_meta(account: &AccountRow) -> EventMeta {
    let meta = EventMeta::for_command(Some(account.id.to_string()));
    match account.district_id {
        Some(district) => meta.in_tenant(district, account.school_id),
        None => meta,
    }
}

/// Writes how a failed attempt counts: the new count, or a lock for a while.
async fn record_failure(
    ctx: &Ctx,
    conn: &mut PgConnection,
    account: &AccountRow,
    failure: Failure,
) -> AppResult<()> {
    if let Failure::Counted(failures) = failure {
        sqlx::query("UPDATE credentials SET failed_logins = $2 WHERE account_id = $1")
            .bind(account.id)
            .bind(failures)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    let until = time::OffsetDateTime::now_utc() + ctx.settings.lockout_duration;
    sqlx::query(
        "UPDATE credentials SET failed_logins = 0, locked_until = $2 WHERE account_id = $1",
    )
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
        reason: LOCKED_BY_SIGN_INS.to_owned(),
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
    .await?;
    Ok(())
}

/// Records a successful sign-in: failures forgotten, one `AccountSignedIn` per
/// local day, and a new token pair.
async fn signed_in(
    ctx: &Ctx,
    conn: &mut PgConnection,
    account: &AccountRow,
) -> AppResult<TokenPair> {
    let today = school::dates::local_today();
    sqlx::query(
        "UPDATE credentials SET failed_logins = 0, locked_until = NULL WHERE account_id = $1",
    )
    .bind(account.id)
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

/// The policy for `account`'s new password, which may be neither its username nor
/// its person's phone number.
async fn check_new_password(
    ctx: &Ctx,
    conn: &mut PgConnection,
    account: &AccountRow,
    password: &str,
) -> AppResult<()> {
    let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM people WHERE id = $1")
        .bind(account.person_id)
        .fetch_optional(conn)
        .await?
        .flatten();
    let personal = [
        account.username.as_str(),
        phone.as_deref().unwrap_or_default(),
    ];
    ctx.password_policy
        .check_new("new_password", password, &personal)
        .map_err(|violation| AppError::Status(invalid_argument(&[violation])))
}

/// The answer to a refused attempt.
fn refusal(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::BadCredentials => bad_credentials(),
        Refusal::WrongActivationCode => AppError::Status(tonic::Status::unauthenticated(
            "wrong username or activation code",
        )),
        Refusal::Locked => AppError::Rejected(
            "this account is locked; try again in a few minutes or ask the school's IT officer"
                .to_owned(),
        ),
        Refusal::ActivationExpired => AppError::Rejected(
            "the activation code has expired; ask the school for a new one".to_owned(),
        ),
    }
}

/// Hands the transaction back when the verdict admits; otherwise records how the
/// failure counts (committed, so that the refusal cannot undo it) and refuses.
async fn refuse_unless_admitted<'c>(
    ctx: &Ctx,
    mut tx: sqlx::Transaction<'c, sqlx::Postgres>,
    account: &AccountRow,
    verdict: Verdict,
) -> AppResult<sqlx::Transaction<'c, sqlx::Postgres>> {
    let Verdict::Refuse { answer, failure } = verdict else {
        return Ok(tx);
    };
    if let Some(failure) = failure {
        record_failure(ctx, &mut tx, account, failure).await?;
        tx.commit().await?;
    }
    Err(refusal(answer))
}

pub(crate) async fn login(ctx: &Ctx, username: &str, password: &str) -> AppResult<TokenPair> {
    let turn = ctx.passwords.turn().await?;
    let mut tx = ctx.pool.begin().await?;
    let account = by_username(&mut tx, &text::username(username)).await?;
    let hash = account.as_ref().and_then(|a| a.password_hash.as_deref());
    let matches = ctx.passwords.verify(&turn, password, hash).await?;
    let Some(account) = account else {
        return Err(bad_credentials());
    };
    let verdict =
        sign_in_rules::sign_in(&account.standing(), matches, ctx.settings.lockout_attempts);
    let mut tx = refuse_unless_admitted(ctx, tx, &account, verdict).await?;
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
    let turn = ctx.passwords.turn().await?;
    let mut tx = ctx.pool.begin().await?;
    let Some(account) = by_username(&mut tx, &text::username(username)).await? else {
        return Err(refusal(Refusal::WrongActivationCode));
    };
    let code_matches = account
        .activation_code_hash
        .as_deref()
        .is_some_and(|stored| {
            ctx.activation
                .matches(code, stored, account.activation_code_keyed)
        });
    let verdict = sign_in_rules::activation(
        &account.standing(),
        code_matches,
        ctx.settings.lockout_attempts,
    );
    let mut tx = refuse_unless_admitted(ctx, tx, &account, verdict).await?;
    check_new_password(ctx, &mut tx, &account, new_password).await?;
    let hash = ctx.passwords.hash(&turn, new_password).await?;
    sqlx::query(
        "UPDATE credentials SET password_hash = $2, activation_code_hash = NULL, activation_expires_at = NULL \
         WHERE account_id = $1",
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

/// A new password; every other sign-in of the account ends (the caller's own
/// stays).
pub(crate) async fn change_password(
    ctx: &Ctx,
    caller: &Caller,
    current: &str,
    new_password: &str,
) -> AppResult<()> {
    let turn = ctx.passwords.turn().await?;
    let mut tx = ctx.pool.begin().await?;
    let account = by_id(&mut tx, caller.account_id).await?;
    if !ctx
        .passwords
        .verify(&turn, current, account.password_hash.as_deref())
        .await?
    {
        let failure = sign_in_rules::failure(account.failed_logins, ctx.settings.lockout_attempts);
        record_failure(ctx, &mut tx, &account, failure).await?;
        tx.commit().await?;
        return Err(AppError::Status(tonic::Status::unauthenticated(
            "the current password is wrong",
        )));
    }
    check_new_password(ctx, &mut tx, &account, new_password).await?;
    let hash = ctx.passwords.hash(&turn, new_password).await?;
    sqlx::query("UPDATE credentials SET password_hash = $2 WHERE account_id = $1")
        .bind(account.id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    crate::tokens::revoke_account(&mut tx, account.id, caller.session).await?;
    tx.commit().await?;
    Ok(())
}
