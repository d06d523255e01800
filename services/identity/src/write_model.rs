//! Identity's directory, accounts and role bindings as inline projections of its
//! own events: a command writes them only through [`IdentityTables`]
//! (kernel/src/write_model.rs), and a rebuild runs every stored event through it
//! again. Credentials, refresh tokens and signing keys are current state that no
//! event carries; a rebuild leaves them as they are.

use kernel::auth::{Caller, Role, Target};
use kernel::dates;
use kernel::write_model::{self, Fact, InlineProjection};
use lienlac_proto::identity::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Ctx;
use crate::accounts::sign_in_rules::AccountStatus;
use crate::error::AppResult;
use crate::events::{internal, kept};
use crate::roles::{role_from_proto, scope_from_proto, scope_name};

/// How an administrator's lock names its reason (`AccountLocked.reason`).
pub(crate) const LOCKED_BY_ADMINISTRATOR: &str = "by_administrator";

pub(crate) struct IdentityTables;

impl InlineProjection for IdentityTables {
    const TABLES: &'static [&'static str] = &[
        "role_bindings",
        "accounts",
        "guardianships",
        "enrolments",
        "classes",
        "people",
        "schools",
        "districts",
    ];

    async fn apply(&self, conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
        match fact.event_type {
            "DistrictCreated" => district_created(conn, fact).await,
            "SchoolCreated" => school_created(conn, fact).await,
            "ClassCreated" => class_created(conn, fact).await,
            "StudentRegistered" => student_registered(conn, fact).await,
            "StaffRegistered" => staff_registered(conn, fact).await,
            "GuardianRegistered" => guardian_registered(conn, fact).await,
            "GuardianLinked" => guardian_linked(conn, fact).await,
            "StudentEnrolled" => student_enrolled(conn, fact).await,
            "StudentTransferred" => student_transferred(conn, fact).await,
            "StudentWithdrawn" => student_withdrawn(conn, fact).await,
            "HomeroomTeacherAssigned" => homeroom_teacher_assigned(conn, fact).await,
            "AccountIssued" => account_issued(conn, fact).await,
            internal::OPERATOR_ACCOUNT_CREATED => operator_account_created(conn, fact).await,
            "AccountActivated" => {
                let event: pb::AccountActivated = fact.decode()?;
                account_status(conn, &event.account_id, AccountStatus::Active).await
            }
            internal::ACTIVATION_REISSUED => {
                let event: internal::ActivationReissued = fact.decode()?;
                account_status(conn, &event.account_id, AccountStatus::Issued).await
            }
            "AccountSignedIn" => account_signed_in(conn, fact).await,
            "AccountLocked" => {
                let event: pb::AccountLocked = fact.decode()?;
                // A lock after failed sign-ins lives with the credentials.
                match event.reason.starts_with(LOCKED_BY_ADMINISTRATOR) {
                    true => locked_by_admin(conn, &event.account_id, true).await,
                    false => Ok(()),
                }
            }
            "AccountUnlocked" => {
                let event: pb::AccountUnlocked = fact.decode()?;
                locked_by_admin(conn, &event.account_id, false).await
            }
            "RoleGranted" => role_granted(conn, fact).await,
            "RoleRevoked" => role_revoked(conn, fact).await,
            _ => Ok(()),
        }
    }
}

/// Operators: the directory projected again from the event store.
pub(crate) async fn rebuild(ctx: &Ctx, caller: &Caller) -> AppResult<pb::WriteModelRebuilt> {
    caller.require(&[Role::Operator], &Target::platform())?;
    let events = write_model::rebuild(&ctx.pool, &IdentityTables).await?;
    tracing::info!(events, "identity write model rebuilt");
    Ok(pb::WriteModelRebuilt {
        events,
        tables: IdentityTables::TABLES
            .iter()
            .map(|t| t.to_string())
            .collect(),
    })
}

async fn district_created(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::DistrictCreated = fact.decode()?;
    sqlx::query(
        "INSERT INTO districts (id, name, external_ref, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn school_created(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::SchoolCreated = fact.decode()?;
    sqlx::query(
        "INSERT INTO schools (id, district_id, name, external_ref, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id(&event.school_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn class_created(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::ClassCreated = fact.decode()?;
    sqlx::query(
        "INSERT INTO classes (id, school_id, district_id, name, grade, school_year, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id(&event.class_id)?)
    .bind(id(&event.school_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.name)
    .bind(event.grade)
    .bind(&event.school_year)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn student_registered(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::StudentRegistered = fact.decode()?;
    let birth_date = dates::parse(&event.birth_date)
        .ok_or_else(|| anyhow::anyhow!("birth_date {:?} is not a date", event.birth_date))?;
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, birth_date, gender, external_ref, created_at) \
         VALUES ($1, 'student', $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id(&event.student_id)?)
    .bind(id(&event.district_id)?)
    .bind(id(&event.school_id)?)
    .bind(&event.full_name)
    .bind(school::text::fold(&event.full_name))
    .bind(birth_date)
    .bind(event.gender as i16)
    .bind(&event.external_ref)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn staff_registered(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::StaffRegistered = fact.decode()?;
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, school_id, full_name, name_folded, phone, position, created_at) \
         VALUES ($1, 'staff', $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id(&event.staff_id)?)
    .bind(id(&event.district_id)?)
    .bind(id(&event.school_id)?)
    .bind(&event.full_name)
    .bind(school::text::fold(&event.full_name))
    .bind(&event.phone)
    .bind(&event.position)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn guardian_registered(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::GuardianRegistered = fact.decode()?;
    sqlx::query(
        "INSERT INTO people (id, kind, district_id, full_name, name_folded, phone, created_at) \
         VALUES ($1, 'guardian', $2, $3, $4, $5, $6)",
    )
    .bind(id(&event.guardian_id)?)
    .bind(id(&event.district_id)?)
    .bind(&event.full_name)
    .bind(school::text::fold(&event.full_name))
    .bind(&event.phone)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn guardian_linked(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::GuardianLinked = fact.decode()?;
    sqlx::query(
        "INSERT INTO guardianships (guardian_id, student_id, relation) VALUES ($1, $2, $3)",
    )
    .bind(id(&event.guardian_id)?)
    .bind(id(&event.student_id)?)
    .bind(event.relation as i16)
    .execute(conn)
    .await?;
    Ok(())
}

/// Enrolled anew, or again in a school year the student had left.
async fn student_enrolled(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::StudentEnrolled = fact.decode()?;
    sqlx::query(
        "INSERT INTO enrolments (student_id, school_year, class_id, active, updated_at) VALUES ($1, $2, $3, true, $4) \
         ON CONFLICT (student_id, school_year) DO UPDATE SET class_id = $3, active = true, updated_at = $4",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(id(&event.class_id)?)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn student_transferred(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::StudentTransferred = fact.decode()?;
    sqlx::query(
        "UPDATE enrolments SET class_id = $3, updated_at = $4 WHERE student_id = $1 AND school_year = $2",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(id(&event.to_class_id)?)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn student_withdrawn(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::StudentWithdrawn = fact.decode()?;
    sqlx::query(
        "UPDATE enrolments SET active = false, updated_at = $3 WHERE student_id = $1 AND school_year = $2",
    )
    .bind(id(&event.student_id)?)
    .bind(&event.school_year)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn homeroom_teacher_assigned(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::HomeroomTeacherAssigned = fact.decode()?;
    sqlx::query("UPDATE classes SET homeroom_teacher_id = $2 WHERE id = $1")
        .bind(id(&event.class_id)?)
        .bind(id(&event.staff_id)?)
        .execute(conn)
        .await?;
    Ok(())
}

async fn account_issued(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
    let event: pb::AccountIssued = fact.decode()?;
    let username: String = fact.kept(kept::USERNAME)?.ok_or_else(|| {
        anyhow::anyhow!(
            "AccountIssued {} was recorded before usernames were kept",
            fact.event_id
        )
    })?;
    sqlx::query(
        "INSERT INTO accounts (id, person_id, username, status, district_id, school_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id(&event.account_id)?)
    .bind(id(&event.person_id)?)
    .bind(username)
    .bind(AccountStatus::Issued.as_str())
    .bind(fact.district_id)
    .bind(optional_id(&event.school_id)?)
    .bind(fact.recorded_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn operator_account_created(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
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

async fn account_signed_in(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
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
    binding: Option<&pb::RoleBinding>,
) -> anyhow::Result<(&'static str, &'static str, Option<Uuid>, Option<Uuid>)> {
    let binding = binding.ok_or_else(|| anyhow::anyhow!("a role event without its binding"))?;
    let role = role_from_proto(binding.role)
        .ok_or_else(|| anyhow::anyhow!("role {} is not a role", binding.role))?;
    let scope = scope_from_proto(binding.scope_kind)
        .ok_or_else(|| anyhow::anyhow!("scope {} is not a scope", binding.scope_kind))?;
    Ok((
        role.as_str(),
        scope_name(scope),
        optional_id(&binding.scope_id)?,
        optional_id(&binding.district_id)?,
    ))
}

async fn role_granted(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
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

async fn role_revoked(conn: &mut PgConnection, fact: &Fact<'_>) -> anyhow::Result<()> {
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

fn id(text: &str) -> anyhow::Result<Uuid> {
    Ok(text.parse()?)
}

/// An id that may be absent (`""`).
fn optional_id(text: &str) -> anyhow::Result<Option<Uuid>> {
    Ok(if text.is_empty() {
        None
    } else {
        Some(text.parse()?)
    })
}
