//! Identity's directory, accounts and role bindings as inline projections of its
//! own events: a command writes them only through [`IdentityTables`]
//! (kernel/src/write_model.rs), and a rebuild runs every stored event through it
//! again. Credentials, refresh tokens and signing keys are current state that no
//! event carries; a rebuild leaves them as they are.

use kernel::auth::{Caller, Role, Target};
use kernel::event_store::{AppendError, EventMeta, ExpectedVersion, NewEvent, stream_version};
use kernel::write_model::{self, Fact, InlineProjection, WriteError, append_and_project};
use lienlac_proto::identity::v1 as pb;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Ctx;
use crate::error::AppResult;
use crate::events::internal;

mod accounts;
mod directory;

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
            "DistrictCreated" => directory::district_created(conn, fact).await,
            "SchoolCreated" => directory::school_created(conn, fact).await,
            "ClassCreated" => directory::class_created(conn, fact).await,
            "StudentRegistered" => directory::student_registered(conn, fact).await,
            "ClassRosterImported" => directory::class_roster_imported(conn, fact).await,
            "StaffRegistered" => directory::staff_registered(conn, fact).await,
            "GuardianRegistered" => directory::guardian_registered(conn, fact).await,
            "GuardianLinked" => directory::guardian_linked(conn, fact).await,
            "GuardianUnlinked" => directory::guardian_unlinked(conn, fact).await,
            "StudentEnrolled" => directory::student_enrolled(conn, fact).await,
            "StudentTransferred" => directory::student_transferred(conn, fact).await,
            "StudentWithdrawn" => directory::student_withdrawn(conn, fact).await,
            "HomeroomTeacherAssigned" => directory::homeroom_teacher_assigned(conn, fact).await,
            "PersonalDataErased" => directory::personal_data_erased(conn, fact).await,
            "DisplayNameChosen" => directory::display_name_chosen(conn, fact).await,
            "PersonUpdated" => directory::person_updated(conn, fact).await,
            "AccountIssued" => accounts::account_issued(conn, fact).await,
            internal::OPERATOR_ACCOUNT_CREATED => {
                accounts::operator_account_created(conn, fact).await
            }
            "AccountActivated" => accounts::account_activated(conn, fact).await,
            internal::ACTIVATION_REISSUED => accounts::activation_reissued(conn, fact).await,
            "AccountSignedIn" => accounts::account_signed_in(conn, fact).await,
            "AccountLocked" => accounts::account_locked(conn, fact).await,
            "AccountUnlocked" => accounts::account_unlocked(conn, fact).await,
            "RoleGranted" => accounts::role_granted(conn, fact).await,
            "RoleRevoked" => accounts::role_revoked(conn, fact).await,
            _ => Ok(()),
        }
    }
}

/// Appends `event` to `stream_id` after the stream's current last version and
/// projects it into identity's tables (this module). For commands whose row
/// locks already keep two writers of one stream apart; a race they did not
/// foresee still ends in a version conflict.
pub(crate) async fn emit<E>(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: &E,
) -> Result<(), WriteError>
where
    E: prost::Message + prost::Name + Serialize,
{
    record(
        conn,
        stream_id,
        meta,
        NewEvent::from_message(event).map_err(AppendError::from)?,
    )
    .await
}

/// [`emit`] for an event built by hand: one that keeps more than it publishes, or
/// one that stays inside identity.
pub(crate) async fn record(
    conn: &mut PgConnection,
    stream_id: &str,
    meta: &EventMeta,
    event: NewEvent,
) -> Result<(), WriteError> {
    let version = stream_version(conn, stream_id)
        .await
        .map_err(AppendError::from)?;
    append_and_project(
        conn,
        &IdentityTables,
        stream_id,
        ExpectedVersion::from_loaded(version),
        &[event],
        meta,
    )
    .await?;
    Ok(())
}

/// Operators: the directory, accounts and role bindings projected again from the
/// event store.
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

pub(super) fn id(text: &str) -> anyhow::Result<Uuid> {
    Ok(text.parse()?)
}
