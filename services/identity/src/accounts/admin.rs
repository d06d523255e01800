//! Locking and unlocking accounts, the platform operator created at first start,
//! and "who am I".

use kernel::auth::{Caller, Role};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use kernel::event_store::{Aggregate as _, EventMeta, ExpectedVersion, NewEvent, load};
use kernel::write_model::append_and_project;
use lienlac_proto::identity::v1::{
    Account, AccountStatus, RoleBinding, ScopeKind as ProtoScope, WhoAmIResponse,
};
use lienlac_proto::identity::v2::{AccountLocked, AccountUnlocked, RoleGranted};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::account_rules::{
    Account as AccountRules, AccountCommand, AccountContext, AccountEvent, lock_reason,
};
use super::{AccountRow, by_id, require_administers};
use crate::Ctx;
use crate::account_state::{self, LOCKED_BY_ADMINISTRATOR};
use crate::config::DEVELOPMENT_ADMIN_PASSWORD;
use crate::error::AppResult;
use crate::events::{account_stream, internal};
use crate::password_policy::PasswordPolicy;
use crate::passwords::Passwords;
use crate::personal_data::{self, PersonalFields};
use crate::roles::binding_to_proto;
use crate::write_model::{IdentityTables, emit, record};

pub const OPERATOR_USERNAME: &str = "admin";

fn account_proto(account: &AccountRow) -> Account {
    let status = if account.locked {
        AccountStatus::Locked
    } else if account.standing().status == Some(account_state::AccountStatus::Active) {
        AccountStatus::Active
    } else {
        AccountStatus::Issued
    };
    Account {
        id: account.id.to_string(),
        person_id: account
            .person_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        username: account.username.clone(),
        status: status as i32,
    }
}

fn meta_for(caller: &Caller, account: &AccountRow) -> EventMeta {
    let meta = EventMeta::for_command(Some(caller.account_id.to_string()));
    match account.district_id {
        Some(district) => meta.in_tenant(district, account.school_id),
        None => meta,
    }
}

/// Lets the account's rules (`account_rules.rs`) decide `command` on the account
/// folded from its own events, and appends and projects what they decided.
pub(crate) async fn administer(
    tx: &mut PgConnection,
    by: &Caller,
    account: &AccountRow,
    command: AccountCommand,
) -> AppResult<Vec<AccountEvent>> {
    let stream = account_stream(account.id);
    let (state, version) = load::<AccountRules>(tx, &stream)
        .await
        .map_err(anyhow::Error::from)?;
    let context = AccountContext {
        locked_by_sign_ins: account.locked_by_sign_ins,
    };
    let decided = state.decide(&command, &context)?;
    let (account_id, person_id) = (
        account.id.to_string(),
        account
            .person_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    );
    let mut stored = Vec::with_capacity(decided.len());
    for event in &decided {
        let event = match event {
            AccountEvent::Locked { reason, .. } => {
                // The lock is published as a code; the administrator's words about
                // it are sealed with the person's data.
                let public = AccountLocked {
                    account_id: account_id.clone(),
                    person_id: person_id.clone(),
                    reason: LOCKED_BY_ADMINISTRATOR.to_owned(),
                    locked_until: String::new(),
                };
                let note = reason
                    .strip_prefix(LOCKED_BY_ADMINISTRATOR)
                    .and_then(|rest| rest.strip_prefix(": "))
                    .unwrap_or_default();
                match account.person_id {
                    Some(person) if !note.is_empty() => {
                        let personal = PersonalFields {
                            reason: note.to_owned(),
                            ..PersonalFields::default()
                        };
                        personal_data::sealed_event(tx, person, &public, &personal).await?
                    }
                    _ => NewEvent::from_message(&public).map_err(anyhow::Error::from)?,
                }
            }
            AccountEvent::Unlocked => NewEvent::from_message(&AccountUnlocked {
                account_id: account_id.clone(),
                person_id: person_id.clone(),
            })
            .map_err(anyhow::Error::from)?,
            AccountEvent::Reissued => NewEvent::new(
                internal::ACTIVATION_REISSUED,
                1,
                &internal::ActivationReissued {
                    account_id: account_id.clone(),
                },
            )
            .map_err(anyhow::Error::from)?,
            AccountEvent::Issued { .. } | AccountEvent::Activated => {
                return Err(anyhow::anyhow!("administering an account decided {event:?}").into());
            }
        };
        stored.push(event);
    }
    let expected = ExpectedVersion::from_loaded(version);
    append_and_project(
        tx,
        &IdentityTables,
        &stream,
        expected,
        &stored,
        &meta_for(by, account),
    )
    .await?;
    Ok(decided)
}

pub(crate) async fn lock(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    account_id: Uuid,
    reason: String,
) -> AppResult<Account> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let account = by_id(tx, account_id).await?;
            require_administers(tx, &by, &account).await?;
            let command = AccountCommand::Lock {
                reason: lock_reason(&reason),
            };
            if !administer(tx, &by, &account, command).await?.is_empty() {
                crate::tokens::revoke_account(tx, account_id, None).await?;
            }
            Ok(account_proto(&by_id(tx, account_id).await?))
        })
    })
    .await
}

pub(crate) async fn unlock(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    account_id: Uuid,
) -> AppResult<Account> {
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let account = by_id(tx, account_id).await?;
            require_administers(tx, &by, &account).await?;
            if !administer(tx, &by, &account, AccountCommand::Unlock).await?.is_empty() {
                sqlx::query(
                    "UPDATE credentials SET locked_until = NULL, failed_logins = 0 WHERE account_id = $1",
                )
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            }
            Ok(account_proto(&by_id(tx, account_id).await?))
        })
    })
    .await
}

pub(crate) async fn who_am_i(ctx: &Ctx, caller: &Caller) -> AppResult<WhoAmIResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let account = by_id(&mut conn, caller.account_id).await?;
    let person = match account.person_id {
        Some(person_id) => Some(crate::directory::person::person(ctx, caller, person_id).await?),
        None => None,
    };
    let bindings = crate::tokens::bindings(&mut conn, account.id, account.person_id).await?;
    Ok(WhoAmIResponse {
        account: Some(account_proto(&account)),
        person,
        roles: bindings
            .iter()
            .map(|binding| binding_to_proto(binding, account.id))
            .collect(),
    })
}

/// Creates the platform operator `admin` with `password` unless it exists. Outside
/// development, an operator still holding the development password gets
/// `password` instead, and its sign-ins end: a deployment tried once with
/// `LIENLAC_DEV=1` keeps no publicly known password.
pub(crate) async fn ensure_operator(
    pool: &PgPool,
    passwords: &Passwords,
    policy: &PasswordPolicy,
    password: &str,
    development: bool,
) -> anyhow::Result<()> {
    if let Err(violation) =
        policy.check_new("LIENLAC_ADMIN_PASSWORD", password, &[OPERATOR_USERNAME])
    {
        anyhow::bail!("LIENLAC_ADMIN_PASSWORD {}", violation.english);
    }
    let existing: Option<(Uuid, Option<String>)> = sqlx::query_as(
        "SELECT a.id, c.password_hash FROM accounts a JOIN credentials c ON c.account_id = a.id \
             WHERE a.username = $1",
    )
    .bind(OPERATOR_USERNAME)
    .fetch_optional(pool)
    .await?;
    let turn = passwords.turn().await?;
    if let Some((account_id, hash)) = existing {
        if !development
            && passwords
                .verify(&turn, DEVELOPMENT_ADMIN_PASSWORD, hash.as_deref())
                .await?
        {
            let hash = passwords.hash(&turn, password).await?;
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE credentials SET password_hash = $2 WHERE account_id = $1")
                .bind(account_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
            crate::tokens::revoke_account(&mut tx, account_id, None)
                .await
                .map_err(|e| anyhow::anyhow!("ending the operator's sign-ins: {e}"))?;
            tx.commit().await?;
            tracing::warn!(
                "the platform operator still had the development password: it is now LIENLAC_ADMIN_PASSWORD"
            );
        }
        return Ok(());
    }
    let hash = passwords.hash(&turn, password).await?;
    let mut tx = pool.begin().await?;
    let account_id = Uuid::now_v7();
    let meta = EventMeta::for_command(Some(account_id.to_string()));
    let created = internal::OperatorAccountCreated {
        account_id: account_id.to_string(),
        username: OPERATOR_USERNAME.to_owned(),
    };
    let event = NewEvent::new(internal::OPERATOR_ACCOUNT_CREATED, 1, &created)?;
    match record(&mut tx, &account_stream(account_id), &meta, event).await {
        Ok(()) => {}
        Err(error) if error.is_unique_violation() => return Ok(()), // another replica created it first
        Err(error) => anyhow::bail!("recording the operator: {error}"),
    }
    sqlx::query("INSERT INTO credentials (account_id, password_hash) VALUES ($1, $2)")
        .bind(account_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    let event = RoleGranted {
        account_id: account_id.to_string(),
        person_id: String::new(),
        binding: Some(RoleBinding {
            role: lienlac_proto::identity::v1::Role::Operator as i32,
            scope_kind: ProtoScope::Platform as i32,
            account_id: account_id.to_string(),
            ..RoleBinding::default()
        }),
    };
    emit(&mut tx, &account_stream(account_id), &meta, &event)
        .await
        .map_err(|e| anyhow::anyhow!("recording the operator: {e}"))?;
    tx.commit().await?;
    tracing::info!(
        role = Role::Operator.as_str(),
        "created the platform operator account"
    );
    Ok(())
}
