//! Students by id for lienlac's services that show names and keep none (reporting's
//! reports and exports), read with their reader's own token: the students the
//! reader may see, with the details they may see. A service token reads every
//! student's name (messaging naming a child in a notice it sends by SMS).

use kernel::access_log;
use kernel::auth::{Caller, Role, Target};
use lienlac_proto::identity::v1::{DescribeStudentsResponse, Person};
use uuid::Uuid;

use super::read::{PERSON_COLUMNS, PersonRow};
use crate::Ctx;
use crate::access::SCHOOL_READERS;
use crate::error::AppResult;
use crate::personal_details::{self, Whose};

/// The most ids one request may name.
pub(crate) const MAX_STUDENTS: usize = 2_000;

#[derive(sqlx::FromRow)]
struct DescribedRow {
    #[sqlx(flatten)]
    person: PersonRow,
    class_id: Option<Uuid>,
}

pub(crate) async fn describe_students(
    ctx: &Ctx,
    caller: &Caller,
    ids: &[Uuid],
) -> AppResult<DescribeStudentsResponse> {
    let sql = format!(
        "SELECT DISTINCT ON (p.id) {PERSON_COLUMNS}, e.class_id FROM people p \
         LEFT JOIN enrolments e ON e.student_id = p.id AND e.active \
         WHERE p.id = ANY($1) AND p.kind = 'student' \
         ORDER BY p.id, e.school_year DESC NULLS LAST"
    );
    let rows: Vec<DescribedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(&ctx.pool)
        .await?;
    let mut read = Vec::with_capacity(rows.len());
    let students = rows
        .into_iter()
        .filter_map(|row| {
            let class = row.class_id;
            let mut student = Person::from(row.person);
            let id = Uuid::parse_str(&student.id).ok()?;
            let district = Uuid::parse_str(&student.district_id).ok()?;
            let school = Uuid::parse_str(&student.school_id).ok()?;
            let in_school = Target::school(district, school).with_student(id);
            let in_class = class.map_or(in_school, |class| {
                Target::class(district, school, class).with_student(id)
            });
            let allowed = caller.person_id == Some(id)
                || caller.holds(SCHOOL_READERS, &in_school)
                || caller.holds(&[Role::Service], &in_school)
                || caller.holds(&[Role::Guardian], &in_class);
            if !allowed {
                return None;
            }
            if !personal_details::sees(caller, id, &Whose::Student(in_class)) {
                personal_details::withhold(&mut student);
            }
            student.class_id = class.map(|c| c.to_string()).unwrap_or_default();
            read.push((id, in_class));
            Some(student)
        })
        .collect();
    access_log::record_in(&ctx.pool, caller, "identity.DescribeStudents", &read).await?;
    Ok(DescribeStudentsResponse { students })
}
