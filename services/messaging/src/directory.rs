//! The directory as messaging needs it, projected from identity's public events
//! by the consumer `messaging-directory`: the tables every service keeps
//! (school/src/directory.rs), the staff of each school, who leads which school,
//! and who has activated an account (delivery/).

use kernel::consumer::{Projection, ReceivedEvent};
use lienlac_proto::identity::v1::{PersonKind, Role, ScopeKind};
use lienlac_proto::identity::v2 as identity;
use school::enrolments::uuid;
use sqlx::PgConnection;

pub(crate) struct DirectoryProjection;

pub(crate) const CONSUMER: &str = "messaging-directory";

/// The roles that lead a school, as messaging stores them.
fn leader_role(role: i32) -> Option<&'static str> {
    match Role::try_from(role).ok()? {
        Role::Principal => Some("principal"),
        Role::VicePrincipal => Some("vice_principal"),
        Role::ItOfficer => Some("it_officer"),
        _ => None,
    }
}

impl Projection for DirectoryProjection {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, conn: &mut PgConnection, event: &ReceivedEvent) -> anyhow::Result<()> {
        if school::directory::project(conn, event).await?.is_some() {
            return Ok(());
        }
        match event.name() {
            "StaffRegistered" => {
                let staff: identity::StaffRegistered = event.decode()?;
                // Staff of the district office are in no school's staff group.
                if staff.school_id.is_empty() {
                    return Ok(());
                }
                sqlx::query(
                    "INSERT INTO staff (id, school_id, district_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                )
                .bind(uuid("staff_id", &staff.staff_id)?)
                .bind(uuid("school_id", &staff.school_id)?)
                .bind(uuid("district_id", &staff.district_id)?)
                .execute(conn)
                .await?;
            }
            "AccountActivated" => {
                let activated: identity::AccountActivated = event.decode()?;
                if activated.person_id.is_empty() {
                    return Ok(());
                }
                sqlx::query(
                    "INSERT INTO activated_people (person_id) VALUES ($1) ON CONFLICT DO NOTHING",
                )
                .bind(uuid("person_id", &activated.person_id)?)
                .execute(conn)
                .await?;
            }
            "PersonalDataErased" => {
                let erased: identity::PersonalDataErased = event.decode()?;
                // Where they were reached (browsers, an email address) goes too.
                let person = uuid("person_id", &erased.person_id)?;
                sqlx::query(
                    "WITH d AS (DELETE FROM devices WHERE person_id = $1), \
                     p AS (DELETE FROM delivery_preferences WHERE person_id = $1) \
                     DELETE FROM channel_stops WHERE person_id = $1",
                )
                .bind(person)
                .execute(&mut *conn)
                .await?;
                if erased.person_kind == PersonKind::Guardian as i32 {
                    // Their files go with them (attachments/purge.rs deletes the
                    // bytes); what staff sent stays with the school's record.
                    sqlx::query(
                        "UPDATE attachments SET erased_at = now(), file_name = '' \
                         WHERE uploader_person_id = $1 AND erased_at IS NULL",
                    )
                    .bind(uuid("person_id", &erased.person_id)?)
                    .execute(conn)
                    .await?;
                }
            }
            "RoleGranted" | "RoleRevoked" => {
                let (person, binding, granted) = if event.name() == "RoleGranted" {
                    let granted: identity::RoleGranted = event.decode()?;
                    (granted.person_id, granted.binding, true)
                } else {
                    let revoked: identity::RoleRevoked = event.decode()?;
                    (revoked.person_id, revoked.binding, false)
                };
                let Some(binding) = binding else {
                    return Ok(());
                };
                let Some(role) = leader_role(binding.role) else {
                    return Ok(());
                };
                if binding.scope_kind != ScopeKind::School as i32 || person.is_empty() {
                    return Ok(());
                }
                let (person, school) = (
                    uuid("person_id", &person)?,
                    uuid("scope_id", &binding.scope_id)?,
                );
                let sql = if granted {
                    "INSERT INTO school_leaders (person_id, school_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
                } else {
                    "DELETE FROM school_leaders WHERE person_id = $1 AND school_id = $2 AND role = $3"
                };
                sqlx::query(sql)
                    .bind(person)
                    .bind(school)
                    .bind(role)
                    .execute(conn)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn reset(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        sqlx::query(
            "TRUNCATE schools, classes, enrolment_periods, guardianships, staff, school_leaders, \
             activated_people",
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}
