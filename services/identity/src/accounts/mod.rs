//! Accounts: issuing and activating them, signing in, and administering them.

pub(crate) mod admin;
pub(crate) mod authority;
pub(crate) mod issue;
pub(crate) mod roles;
pub(crate) mod sessions;
pub(crate) mod sign_in_rules;

use kernel::auth::Caller;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access;
use crate::error::{AppError, AppResult};

/// The account row the sign-in and administration paths work on.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AccountRow {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub username: String,
    pub status: String,
    pub password_hash: Option<String>,
    pub activation_code_hash: Option<Vec<u8>>,
    pub activation_code_keyed: bool,
    pub activation_expired: bool,
    pub failed_logins: i32,
    pub locked: bool,
    pub locked_by_admin: bool,
    pub last_sign_in_date: Option<time::Date>,
    pub district_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
}

impl AccountRow {
    /// Where the account stands, for the sign-in rules.
    pub(crate) fn standing(&self) -> sign_in_rules::Standing {
        sign_in_rules::Standing {
            status: sign_in_rules::AccountStatus::parse(&self.status),
            locked: self.locked,
            failed_attempts: self.failed_logins,
            activation_expired: self.activation_expired,
        }
    }
}

const ACCOUNT_COLUMNS: &str = "id, person_id, username, status, password_hash, activation_code_hash, activation_code_keyed, \
    coalesce(activation_expires_at < now(), false) AS activation_expired, failed_logins, \
    locked_by_admin OR coalesce(locked_until > now(), false) AS locked, locked_by_admin, \
    last_sign_in_date, district_id, school_id";

/// Locks and returns the account named `username`.
pub(crate) async fn by_username(
    conn: &mut PgConnection,
    username: &str,
) -> AppResult<Option<AccountRow>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1 FOR UPDATE");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .fetch_optional(conn)
        .await?)
}

/// Locks and returns the account `id`.
pub(crate) async fn by_id(conn: &mut PgConnection, id: Uuid) -> AppResult<AccountRow> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 FOR UPDATE");
    let row: Option<AccountRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or(AppError::NotFound("account"))
}

/// Whether the caller may administer the account ([`authority::may_administer`]
/// over every binding it holds, granted or following from the directory).
pub(crate) async fn require_administers(
    conn: &mut PgConnection,
    caller: &Caller,
    account: &AccountRow,
) -> AppResult<()> {
    let holdings = crate::tokens::bindings(&mut *conn, account.id, account.person_id).await?;
    let home = match account.person_id {
        Some(person_id) => Some(access::person(conn, person_id).await?.0),
        None => None,
    };
    if authority::may_administer(caller, &holdings, home) {
        Ok(())
    } else {
        Err(tonic::Status::permission_denied(
            "you do not administer this account: it holds a role, or has a child in a school, beyond what you could grant",
        )
        .into())
    }
}
