//! Issuing accounts in bulk with one-time activation codes, and resetting one.
//! Activation codes appear in the answer only: the answer kept for retries of the
//! same `request_id` has them blanked, so no code is stored in clear.

use std::collections::HashMap;

use kernel::auth::{Caller, Role};
use kernel::csv::spreadsheet_safe;
use kernel::event_store::RequestKey;
use kernel::event_store::{find_request, record_request};
use lienlac_proto::identity::v1::{IssueAccountsResponse, IssuedAccount, PersonKind};
use lienlac_proto::identity::v2::AccountIssued;
use sqlx::PgConnection;
use uuid::Uuid;

use super::account_rules::AccountCommand;
use super::{by_id, require_administers};
use crate::Ctx;
use crate::access::{self, SCHOOL_ADMINS};
use crate::directory::meta;
use crate::error::{AppError, AppResult};
use crate::events::account_stream;
use crate::personal_data::{self, PersonalFields};
use crate::text;
use crate::write_model::record;

/// Whose people get accounts: a school's staff and guardians, or the staff of a
/// district's office.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Place {
    School(Uuid),
    DistrictOffice(Uuid),
}

pub(crate) enum Whom {
    Kinds(Vec<PersonKind>),
    People(Vec<Uuid>),
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: Uuid,
    kind: String,
    full_name: String,
    phone: Option<String>,
    has_account: bool,
}

/// Staff of the school and guardians of its students, or staff of the district's
/// office, as asked.
async fn candidates(
    conn: &mut PgConnection,
    place: Place,
    whom: &Whom,
) -> AppResult<Vec<Candidate>> {
    const SQL: &str = "SELECT p.id, p.kind, p.full_name, p.phone, \
            EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = p.id) AS has_account \
         FROM people p \
         WHERE p.erased_at IS NULL AND ( \
               (p.kind = 'staff' AND p.school_id = $1 AND ($2 OR p.id = ANY($4))) \
            OR (p.kind = 'staff' AND p.school_id IS NULL AND p.district_id = $5 AND ($2 OR p.id = ANY($4))) \
            OR (p.kind = 'guardian' AND ($3 OR p.id = ANY($4)) AND p.id IN ( \
                  SELECT g.guardian_id FROM guardianships g JOIN people s ON s.id = g.student_id \
                  WHERE s.school_id = $1))) \
         ORDER BY p.kind, p.name_folded";
    let (staff, guardians, ids) = match whom {
        Whom::Kinds(kinds) => (
            kinds.contains(&PersonKind::Staff),
            kinds.contains(&PersonKind::Guardian),
            Vec::new(),
        ),
        Whom::People(ids) => (false, false, ids.clone()),
    };
    let (school, office) = match place {
        Place::School(school) => (Some(school), None),
        Place::DistrictOffice(district) => (None, Some(district)),
    };
    let found: Vec<Candidate> = sqlx::query_as(SQL)
        .bind(school)
        .bind(staff)
        .bind(guardians)
        .bind(&ids)
        .bind(office)
        .fetch_all(conn)
        .await?;
    if let Whom::People(ids) = whom
        && let Some(missing) = ids.iter().find(|id| !found.iter().any(|c| c.id == **id))
    {
        return Err(AppError::Rejected(match place {
            Place::School(_) => format!(
                "person {missing} is neither a staff member of the school nor a guardian of one of its students"
            ),
            Place::DistrictOffice(_) => {
                format!("person {missing} is no staff member of the district's office")
            }
        }));
    }
    Ok(found)
}

async fn username_taken(conn: &mut PgConnection, username: &str) -> AppResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE username = $1)")
            .bind(username)
            .fetch_one(conn)
            .await?,
    )
}

/// The phone username, or a generated one when that is taken (a staff member
/// registered again as a guardian, say).
async fn free_username(conn: &mut PgConnection, phone: Option<&str>) -> AppResult<String> {
    if let Some(phone) = phone {
        let username = text::phone_username(phone);
        if !username_taken(conn, &username).await? {
            return Ok(username);
        }
    }
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let username = format!("ll{:08}", u32::from_le_bytes(bytes) % 100_000_000);
        if !username_taken(conn, &username).await? {
            return Ok(username);
        }
    }
}

pub(crate) async fn issue(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    place: Place,
    whom: Whom,
    usernames: &HashMap<Uuid, String>,
    csv: bool,
) -> AppResult<IssueAccountsResponse> {
    let mut conn = ctx.pool.acquire().await?;
    let (target, school_id) = match place {
        Place::School(school) => {
            let target = access::school(&mut conn, school).await?;
            caller.require(SCHOOL_ADMINS, &target)?;
            (target, Some(school))
        }
        Place::DistrictOffice(district) => {
            let target = access::district(&mut conn, district).await?;
            caller.require(&[Role::Operator, Role::DistrictAdmin], &target)?;
            (target, None)
        }
    };
    drop(conn);
    let district_id = target.district.unwrap_or_default();
    let mut tx = ctx.pool.begin().await?;
    if let Some(first) = find_request::<IssueAccountsResponse>(&mut tx, &request).await? {
        return Ok(first);
    }
    let mut answer = IssueAccountsResponse::default();
    let event_meta = meta(caller, district_id, school_id);
    let expires = ctx.settings.activation_code_ttl.as_secs_f64();
    for candidate in candidates(&mut tx, place, &whom).await? {
        if candidate.has_account {
            answer.skipped_person_ids.push(candidate.id.to_string());
            continue;
        }
        let username = match usernames.get(&candidate.id) {
            Some(chosen) if username_taken(&mut tx, chosen).await? => {
                return Err(AppError::AlreadyExists(format!(
                    "the username {chosen} is taken"
                )));
            }
            Some(chosen) => chosen.clone(),
            None => free_username(&mut tx, candidate.phone.as_deref()).await?,
        };
        let (code, stored) = ctx.activation.new_code()?;
        let account_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO credentials (account_id, activation_code_hash, activation_code_keyed, activation_expires_at) \
             VALUES ($1, $2, true, now() + make_interval(secs => $3))",
        )
        .bind(account_id)
        .bind(stored)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
        let kind = access::person_kind(&candidate.kind);
        let event = AccountIssued {
            account_id: account_id.to_string(),
            person_id: candidate.id.to_string(),
            person_kind: kind as i32,
            school_id: school_id.map(|s| s.to_string()).unwrap_or_default(),
        };
        let personal = PersonalFields {
            username: username.clone(),
            ..PersonalFields::default()
        };
        let event = personal_data::sealed_event(&mut tx, candidate.id, &event, &personal).await?;
        record(&mut tx, &account_stream(account_id), &event_meta, event).await?;
        answer.accounts.push(IssuedAccount {
            account_id: account_id.to_string(),
            person_id: candidate.id.to_string(),
            username,
            activation_code: code,
            full_name: candidate.full_name,
        });
    }
    record_request(&mut tx, &request, &blank_codes(&answer)).await?;
    tx.commit().await?;
    if csv {
        answer.csv = to_csv(&answer.accounts)?;
    }
    Ok(answer)
}

fn blank_codes(answer: &IssueAccountsResponse) -> IssueAccountsResponse {
    let mut kept = answer.clone();
    for account in &mut kept.accounts {
        account.activation_code.clear();
    }
    kept
}

/// UTF-8 CSV for printing, with a byte-order mark so spreadsheet programs read the
/// Vietnamese names right.
fn to_csv(accounts: &[IssuedAccount]) -> AppResult<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer
        .write_record(["Họ và tên", "Tên đăng nhập", "Mã kích hoạt"])
        .map_err(anyhow::Error::from)?;
    for account in accounts {
        writer
            .write_record(
                [
                    &account.full_name,
                    &account.username,
                    &account.activation_code,
                ]
                .map(|cell| spreadsheet_safe(cell).into_owned()),
            )
            .map_err(anyhow::Error::from)?;
    }
    writer
        .into_inner()
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("writing CSV: {e}")))
}

/// A new activation code for an account; its password and sessions end.
pub(crate) async fn reset(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    account_id: Uuid,
) -> AppResult<IssuedAccount> {
    let mut tx = ctx.pool.begin().await?;
    let account = by_id(&mut tx, account_id).await?;
    require_administers(&mut tx, caller, &account).await?;
    if let Some(first) = find_request::<IssuedAccount>(&mut tx, &request).await? {
        return Ok(first);
    }
    let (code, stored) = ctx.activation.new_code()?;
    sqlx::query(
        "UPDATE credentials SET password_hash = NULL, activation_code_hash = $2, activation_code_keyed = true, \
             activation_expires_at = now() + make_interval(secs => $3), failed_logins = 0, locked_until = NULL \
         WHERE account_id = $1",
    )
    .bind(account_id)
    .bind(stored)
    .bind(ctx.settings.activation_code_ttl.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    super::admin::administer(&mut tx, caller, &account, AccountCommand::Reset).await?;
    crate::tokens::revoke_account(&mut tx, account_id, None).await?;
    let full_name: Option<String> =
        sqlx::query_scalar("SELECT full_name FROM people WHERE id = $1")
            .bind(account.person_id)
            .fetch_optional(&mut *tx)
            .await?;
    let answer = IssuedAccount {
        account_id: account_id.to_string(),
        person_id: account
            .person_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        username: account.username,
        activation_code: code,
        full_name: full_name.unwrap_or_default(),
    };
    let mut kept = answer.clone();
    kept.activation_code.clear();
    record_request(&mut tx, &request, &kept).await?;
    tx.commit().await?;
    Ok(answer)
}
