//! Reading one person: who may, and which of their details they see.

use kernel::access_log;
use kernel::auth::{Caller, Role, Target};
use lienlac_proto::identity::v1::{Person, PersonKind};
use sqlx::PgConnection;
use uuid::Uuid;

use super::read::{PERSON_COLUMNS, PersonRow, guardianship};
use crate::Ctx;
use crate::access::{self, DISTRICT_READERS, SCHOOL_READERS};
use crate::error::AppResult;
use crate::personal_details::{self, Whose};

/// A person, with their guardianships and (for a student) current class.
pub(crate) async fn person(ctx: &Ctx, caller: &Caller, person_id: Uuid) -> AppResult<Person> {
    let mut conn = ctx.pool.acquire().await?;
    let (target, kind) = access::person(&mut conn, person_id).await?;
    let district = target.district.unwrap_or_default();
    // A guardian's children, read once: for who may see the guardian, which
    // children they see, and whether they see the guardian's phone.
    let children = match kind {
        PersonKind::Guardian => children_of(&mut conn, district, person_id).await?,
        _ => Vec::new(),
    };
    let allowed = caller.person_id == Some(person_id)
        || match kind {
            PersonKind::Student => {
                caller.holds(SCHOOL_READERS, &target) || caller.holds(&[Role::Guardian], &target)
            }
            PersonKind::Staff => caller.holds(SCHOOL_READERS, &target),
            _ => {
                caller.holds(DISTRICT_READERS, &target)
                    || children.iter().any(|child| reads_school_of(caller, child))
            }
        };
    if !allowed {
        return Err(tonic::Status::permission_denied("you may not see this person").into());
    }
    let sql = format!("SELECT {PERSON_COLUMNS} FROM people p WHERE p.id = $1");
    let row: PersonRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(person_id)
        .fetch_one(&mut *conn)
        .await?;
    let mut person = Person::from(row);
    let links: Vec<(Uuid, Uuid, i16)> = sqlx::query_as(
        "SELECT guardian_id, student_id, relation FROM guardianships WHERE guardian_id = $1 OR student_id = $1 ORDER BY relation",
    )
    .bind(person_id)
    .fetch_all(&mut *conn)
    .await?;
    person.guardianships = links.into_iter().map(guardianship).collect();
    let whose = match kind {
        PersonKind::Student => {
            let class = current_class(&mut conn, person_id).await?;
            person.class_id = class.map(|id| id.to_string()).unwrap_or_default();
            Whose::Student(match (class, target.school) {
                (Some(class), Some(school)) => {
                    Target::class(district, school, class).with_student(person_id)
                }
                _ => target,
            })
        }
        PersonKind::Staff => Whose::Staff(target),
        _ => {
            // Shown to a school, a guardian's record lists that school's children only.
            if caller.person_id != Some(person_id) && !caller.holds(DISTRICT_READERS, &target) {
                person.guardianships.retain(|link| {
                    children.iter().any(|child| {
                        child
                            .student
                            .is_some_and(|id| id.to_string() == link.student_id)
                            && (reads_school_of(caller, child)
                                || caller.holds(&[Role::Guardian], child))
                    })
                });
            }
            Whose::Guardian {
                district: Target::district(district),
                children,
            }
        }
    };
    if !personal_details::sees(caller, person_id, &whose) {
        personal_details::withhold(&mut person);
    }
    if let Whose::Student(target) = whose {
        access_log::record(
            &mut conn,
            caller,
            "identity.GetPerson",
            &[(person_id, target)],
        )
        .await?;
    }
    Ok(person)
}

/// A student's class this school year, if enrolled.
async fn current_class(conn: &mut PgConnection, student_id: Uuid) -> AppResult<Option<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT class_id FROM enrolments WHERE student_id = $1 AND active ORDER BY school_year DESC LIMIT 1",
    )
    .bind(student_id)
    .fetch_optional(conn)
    .await?)
}

/// A guardian's children, each where they study now (their school, and their class
/// when enrolled).
async fn children_of(
    conn: &mut PgConnection,
    district: Uuid,
    guardian_id: Uuid,
) -> AppResult<Vec<Target>> {
    let rows: Vec<(Uuid, Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "SELECT g.student_id, s.school_id, e.class_id FROM guardianships g \
         JOIN people s ON s.id = g.student_id \
         LEFT JOIN enrolments e ON e.student_id = g.student_id AND e.active \
         WHERE g.guardian_id = $1",
    )
    .bind(guardian_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(student, school, class)| {
            let mut target = Target::district(district).with_student(student);
            target.school = school;
            target.class = class;
            target
        })
        .collect())
}

/// Whether the caller reads the directory of the school where this child studies.
fn reads_school_of(caller: &Caller, child: &Target) -> bool {
    match (child.district, child.school) {
        (Some(district), Some(school)) => {
            caller.holds(SCHOOL_READERS, &Target::school(district, school))
        }
        _ => false,
    }
}
