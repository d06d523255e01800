//! Importing a class's roster: every student registered and enrolled in the class
//! in one transaction, with the same events as one RegisterStudent and one
//! EnrollStudent each.

use kernel::auth::Caller;
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::Person;
use uuid::Uuid;

use super::enrolments::record_enrolment;
use super::people::{NewStudent, insert_student};
use crate::Ctx;
use crate::access::{self, DIRECTORY_WRITERS};
use crate::error::{AppError, AppResult};

/// Students one import may hold: a class, with room to spare.
pub(crate) const MAX_ROSTER: usize = 100;

/// `students` carry no school: they join the class's.
pub(crate) async fn import_class_roster(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    class_id: Uuid,
    students: Vec<NewStudent>,
) -> AppResult<Vec<Person>> {
    let (class, school_year) = access::class(&mut *ctx.pool.acquire().await?, class_id).await?;
    caller.require(DIRECTORY_WRITERS, &class)?;
    let school = class.school.ok_or(AppError::NotFound("school"))?;
    let district = class.district.unwrap_or_default();
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let mut registered = Vec::with_capacity(students.len());
            for student in students {
                let (student_id, person) = insert_student(
                    tx,
                    &by,
                    district,
                    NewStudent {
                        school_id: school,
                        ..student
                    },
                )
                .await?;
                record_enrolment(
                    tx,
                    &by,
                    district,
                    Some(school),
                    student_id,
                    class_id,
                    school_year.clone(),
                )
                .await?;
                registered.push(person);
            }
            Ok(registered)
        })
    })
    .await
}
