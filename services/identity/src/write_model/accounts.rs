//! Accounts and their role bindings from identity's events.

use kernel::dates;
use kernel::write_model::Fact;
use lienlac_proto::identity::v2 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use school::enrolments::optional_uuid;

use super::id;
use crate::account_state::{AccountStatus, locked_by_administrator};
use crate::events::internal;
use crate::personal_data::{self, erased_username};
use crate::roles::{role_from_proto, scope_from_proto, scope_name};

pub(super) async fn account_issued(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::AccountIssued = fact.decode()?;
    // An erased person's account keeps its id for a name.
    let username = match personal_data::open(conn, fact).await? {
        Some(personal) => personal.username,
        None => erased_username(&event.account_id),
    };
    sqlx::query(
        "INSERT INTO accounts (id, person_id, username, status, district_id, school_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id(&event.account_id)?)
    .bind(id(&event.person_id)?)
    .bind(username)
    .bind(AccountStatus::Issued.as_str())
    .bind(fact.district_id)
    .bind(optional_uuid("school_id", &event.school_id)?)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn operator_account_created(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: internal::OperatorAccountCreated = fact.decode()?;
    sqlx::query("INSERT INTO accounts (id, username, status, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id(&event.account_id)?)
        .bind(&event.username)
        .bind(AccountStatus::Active.as_str())
        .bind(fact.recorded_at)
        .execute(conn)
        .await?;
    Ok(())
}

async fn account_status(
    conn: &mut PgConnection,
    account_id: &str,
    status: AccountStatus,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE accounts SET status = $2 WHERE id = $1")
        .bind(id(account_id)?)
        .bind(status.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn account_signed_in(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::AccountSignedIn = fact.decode()?;
    let date = dates::parse(&event.date)
        .ok_or_else(|| anyhow::anyhow!("date {:?} is not a date", event.date))?;
    sqlx::query("UPDATE accounts SET last_sign_in_date = $2 WHERE id = $1")
        .bind(id(&event.account_id)?)
        .bind(date)
        .execute(conn)
        .await?;
    Ok(())
}

async fn locked_by_admin(
    conn: &mut PgConnection,
    account_id: &str,
    locked: bool,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE accounts SET locked_by_admin = $2 WHERE id = $1")
        .bind(id(account_id)?)
        .bind(locked)
        .execute(conn)
        .await?;
    Ok(())
}

/// A binding as `role_bindings` holds it: role and scope by name, the scope's id
/// and district when it has them.
fn binding_row(
    binding: Option<&lienlac_proto::identity::v1::RoleBinding>,
) -> anyhow::Result<(&'static str, &'static str, Option<Uuid>, Option<Uuid>)> {
    let binding = binding.ok_or_else(|| anyhow::anyhow!("a role event without its binding"))?;
    let role = role_from_proto(binding.role)
        .ok_or_else(|| anyhow::anyhow!("role {} is not a role", binding.role))?;
    let scope = scope_from_proto(binding.scope_kind)
        .ok_or_else(|| anyhow::anyhow!("scope {} is not a scope", binding.scope_kind))?;
    Ok((
        role.as_str(),
        scope_name(scope),
        optional_uuid("scope_id", &binding.scope_id)?,
        optional_uuid("district_id", &binding.district_id)?,
    ))
}

pub(super) async fn role_granted(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::RoleGranted = fact.decode()?;
    let (role, scope, scope_id, district_id) = binding_row(event.binding.as_ref())?;
    sqlx::query(
        "INSERT INTO role_bindings (account_id, role, scope_kind, scope_id, district_id, granted_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id(&event.account_id)?)
    .bind(role)
    .bind(scope)
    .bind(scope_id)
    .bind(district_id)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn role_revoked(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::RoleRevoked = fact.decode()?;
    let (role, _, scope_id, _) = binding_row(event.binding.as_ref())?;
    sqlx::query(
        "DELETE FROM role_bindings WHERE account_id = $1 AND role = $2 AND scope_id IS NOT DISTINCT FROM $3",
    )
    .bind(id(&event.account_id)?)
    .bind(role)
    .bind(scope_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn account_activated(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::AccountActivated = fact.decode()?;
    account_status(conn, &event.account_id, AccountStatus::Active).await
}

pub(super) async fn activation_reissued(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: internal::ActivationReissued = fact.decode()?;
    account_status(conn, &event.account_id, AccountStatus::Issued).await
}

/// An administrator's lock; a lock after failed sign-ins lives with the credentials.
pub(super) async fn account_locked(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::AccountLocked = fact.decode()?;
    if locked_by_administrator(&event.reason) {
        locked_by_admin(conn, &event.account_id, true).await?;
    }
    Ok(())
}

pub(super) async fn account_unlocked(
    conn: &mut PgConnection,
    fact: &Fact<'_>,
) -> anyhow::Result<()> {
    let event: pb::AccountUnlocked = fact.decode()?;
    locked_by_admin(conn, &event.account_id, false).await
}
