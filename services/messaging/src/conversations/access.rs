//! Who is in which conversation, from the directory messaging keeps: a class
//! group holds the class's homeroom teacher and the guardians of the students in
//! it now, and the school's leaders; a staff group the school's staff and leaders;
//! a direct thread its two people only.

use kernel::auth::{Caller, Target};
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1::ConversationKind;
use school::roles::SCHOOL_LEADERS;
use sqlx::PgConnection;
use uuid::Uuid;

/// The conversations of the person $1 who leads the schools $2, as rows (id,
/// kind, school_id, class_id): the class groups of the classes they are homeroom
/// teacher of, their children are in now or of the schools they lead; the staff
/// groups of the schools they work at or lead; their direct threads. The one
/// statement of membership for lists (the inbox, live delivery); [`member_of`]
/// answers it for one conversation.
pub(crate) const MINE: &str = "\
    SELECT id, 1, school_id, id FROM classes WHERE homeroom_teacher_id = $1 OR school_id = ANY($2) \
    UNION SELECT c.id, 1, c.school_id, c.id FROM classes c \
      JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
      JOIN guardianships g ON g.student_id = e.student_id AND g.guardian_id = $1 \
    UNION SELECT id, 2, id, NULL::uuid FROM schools \
      WHERE id = ANY($2) OR id IN (SELECT school_id FROM staff WHERE id = $1) \
    UNION SELECT id, 3, school_id, NULL::uuid FROM direct_threads WHERE $1 IN (person_a, person_b)";

/// The schools the caller leads, as their token says.
pub(crate) fn led_schools(caller: &Caller) -> Vec<Uuid> {
    caller
        .bindings
        .iter()
        .filter(|binding| SCHOOL_LEADERS.contains(&binding.role))
        .filter_map(|binding| binding.id)
        .collect()
}

/// A conversation and where it belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) id: Uuid,
    pub(crate) kind: ConversationKind,
    pub(crate) district_id: Uuid,
    pub(crate) school_id: Uuid,
    pub(crate) class_id: Option<Uuid>,
}

impl Place {
    pub(crate) fn school(&self) -> Target {
        Target::school(self.district_id, self.school_id)
    }
}

/// The conversation `id`, if the caller is in it, and whether they lead its
/// school; NOT_FOUND for a conversation that does not exist, PERMISSION_DENIED for
/// one they are not in.
pub(crate) async fn member_of(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> AppResult<(Place, bool)> {
    let place = find(conn, id)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    // The school's leaders are in its groups, not in anyone's direct thread.
    let leads =
        place.kind != ConversationKind::Direct && caller.holds(SCHOOL_LEADERS, &place.school());
    let person = caller.person_id.unwrap_or_default();
    let member = leads
        || match place.kind {
            ConversationKind::Class => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM classes WHERE id = $1 AND homeroom_teacher_id = $2) \
                     OR EXISTS (SELECT 1 FROM enrolment_periods e JOIN guardianships g ON g.student_id = e.student_id \
                                WHERE e.class_id = $1 AND e.to_date IS NULL AND g.guardian_id = $2)",
                )
                .bind(id)
                .bind(person)
                .fetch_one(&mut *conn)
                .await?
            }
            ConversationKind::SchoolStaff => {
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM staff WHERE id = $1 AND school_id = $2)")
                    .bind(person)
                    .bind(place.school_id)
                    .fetch_one(&mut *conn)
                    .await?
            }
            ConversationKind::Direct => {
                sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM direct_threads WHERE id = $1 AND $2 IN (person_a, person_b))",
                )
                .bind(id)
                .bind(person)
                .fetch_one(&mut *conn)
                .await?
            }
            ConversationKind::Unspecified => false,
        };
    if member {
        Ok((place, leads))
    } else {
        Err(tonic::Status::permission_denied("you are not in this conversation").into())
    }
}

/// A class group (the class's id), a staff group (the school's) or a direct thread.
pub(crate) async fn find(conn: &mut PgConnection, id: Uuid) -> AppResult<Option<Place>> {
    let row: Option<(i32, Uuid, Uuid, Option<Uuid>)> = sqlx::query_as(
        "SELECT 1, district_id, school_id, id FROM classes WHERE id = $1 \
         UNION ALL SELECT 2, district_id, id, NULL FROM schools WHERE id = $1 \
         UNION ALL SELECT 3, district_id, school_id, NULL FROM direct_threads WHERE id = $1 \
         LIMIT 1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(kind, district_id, school_id, class_id)| Place {
        id,
        kind: ConversationKind::try_from(kind).unwrap_or_default(),
        district_id,
        school_id,
        class_id,
    }))
}
