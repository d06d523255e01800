//! `ErasePersonalData`: a district administrator erases a person who has left.
//! Their accounts are locked, their data key deleted (personal_data.rs), the
//! idempotency answers that named them forgotten, and `PersonalDataErased`
//! published so that every service drops what it holds of them.

mod rules;

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::PersonalDataErasure;
use lienlac_proto::identity::v2::PersonalDataErased;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Ctx;
use crate::access;
use crate::accounts::account_rules::{AccountCommand, lock_reason};
use crate::accounts::{admin, by_id};
use crate::directory::meta;
use crate::error::{AppError, AppResult};
use crate::events::person_stream;
use crate::personal_data;
use crate::write_model::emit;

pub(crate) async fn erase(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    person_id: Uuid,
) -> AppResult<PersonalDataErasure> {
    let (target, kind) = access::person(&mut *ctx.pool.acquire().await?, person_id).await?;
    let district = target.district.unwrap_or_default();
    caller.require(&[Role::DistrictAdmin], &Target::district(district))?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let standing = standing(tx, person_id, kind).await?;
            rules::may_erase(&standing).map_err(|refusal| AppError::Rejected(refusal.to_string()))?;
            let accounts: Vec<Uuid> =
                sqlx::query_scalar("SELECT id FROM accounts WHERE person_id = $1 ORDER BY id")
                    .bind(person_id)
                    .fetch_all(&mut *tx)
                    .await?;
            for account_id in &accounts {
                let account = by_id(tx, *account_id).await?;
                let lock = AccountCommand::Lock {
                    reason: lock_reason(""),
                };
                admin::administer(tx, &by, &account, lock).await?;
                crate::tokens::revoke_account(tx, *account_id, None).await?;
            }
            personal_data::erase_key(tx, person_id).await?;
            // A retry of a request that registered or named them would answer
            // with their name: such answers are forgotten, and a retry runs anew.
            sqlx::query("DELETE FROM requests WHERE strpos(response::text, $1) > 0")
                .bind(person_id.to_string())
                .execute(&mut *tx)
                .await?;
            let erased_at = kernel::dates::rfc3339(OffsetDateTime::now_utc());
            let event = PersonalDataErased {
                person_id: person_id.to_string(),
                district_id: district.to_string(),
                person_kind: kind as i32,
                erased_at: erased_at.clone(),
                erased_by: by.account_id.to_string(),
            };
            emit(
                tx,
                &person_stream(person_id),
                &meta(&by, district, target.school),
                &event,
            )
            .await?;
            tracing::info!(person_id = %person_id, accounts = accounts.len(), "personal data erased");
            Ok(PersonalDataErasure {
                person_id: person_id.to_string(),
                erased_at,
                locked_account_ids: accounts.iter().map(Uuid::to_string).collect(),
            })
        })
    })
    .await
}

/// Where the person stands, read under a lock on their row so that no enrolment
/// or link slips in between.
async fn standing(
    tx: &mut PgConnection,
    person_id: Uuid,
    kind: lienlac_proto::identity::v1::PersonKind,
) -> AppResult<rules::Standing> {
    let (erased,): (bool,) =
        sqlx::query_as("SELECT erased_at IS NOT NULL FROM people WHERE id = $1 FOR UPDATE")
            .bind(person_id)
            .fetch_one(&mut *tx)
            .await?;
    // A role granted meanwhile waits for the account's row.
    sqlx::query("SELECT 1 FROM accounts WHERE person_id = $1 FOR UPDATE")
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
    let (enrolled, children_enrolled, homeroom_classes, role_bindings): (bool, i64, i64, i64) =
        sqlx::query_as(
            "SELECT \
               EXISTS (SELECT 1 FROM enrolments WHERE student_id = $1 AND active), \
               (SELECT count(*) FROM guardianships g JOIN enrolments e \
                  ON e.student_id = g.student_id AND e.active WHERE g.guardian_id = $1), \
               (SELECT count(*) FROM classes WHERE homeroom_teacher_id = $1 AND school_year >= $2), \
               (SELECT count(*) FROM role_bindings b JOIN accounts a ON a.id = b.account_id \
                  WHERE a.person_id = $1)",
        )
        .bind(person_id)
        .bind(school::dates::school_year_of(school::dates::local_today()))
        .fetch_one(&mut *tx)
        .await?;
    Ok(rules::Standing {
        kind,
        erased,
        enrolled,
        children_enrolled,
        homeroom_classes,
        role_bindings,
    })
}
