//! Accounts: issuing and activating them, signing in, and administering them.

pub(crate) mod account_rules;
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
use crate::account_state::AccountStatus;
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
    pub locked_by_sign_ins: bool,
    pub last_sign_in_date: Option<time::Date>,
    pub district_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
}

impl AccountRow {
    /// Where the account stands, for the sign-in rules.
    pub(crate) fn standing(&self) -> sign_in_rules::Standing {
        sign_in_rules::Standing {
            status: AccountStatus::parse(&self.status),
            locked: self.locked,
            failed_attempts: self.failed_logins,
            activation_expired: self.activation_expired,
        }
    }
}

/// An account with its credentials (`FROM accounts a JOIN credentials c`).
const ACCOUNT_COLUMNS: &str = "a.id, a.person_id, a.username, a.status, c.password_hash, c.activation_code_hash, \
    c.activation_code_keyed, coalesce(c.activation_expires_at < now(), false) AS activation_expired, c.failed_logins, \
    a.locked_by_admin OR coalesce(c.locked_until > now(), false) AS locked, \
    coalesce(c.locked_until > now(), false) AS locked_by_sign_ins, \
    a.last_sign_in_date, a.district_id, a.school_id \
    FROM accounts a JOIN credentials c ON c.account_id = a.id";

/// Locks and returns the account named `username`.
pub(crate) async fn by_username(
    conn: &mut PgConnection,
    username: &str,
) -> AppResult<Option<AccountRow>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE a.username = $1 FOR UPDATE");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(username)
        .fetch_optional(conn)
        .await?)
}

/// Locks and returns the account `id`.
pub(crate) async fn by_id(conn: &mut PgConnection, id: Uuid) -> AppResult<AccountRow> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} WHERE a.id = $1 FOR UPDATE");
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
    if let Some(person) = account.person_id {
        access::living(&mut *conn, person).await?;
    }
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
