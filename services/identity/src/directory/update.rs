//! Correcting a person: a name spelt wrong in the source, a new phone number, a
//! birth date typed wrong, a new position. Only what differs is recorded.

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{Person, PersonKind};
use lienlac_proto::identity::v2::PersonUpdated;
use sqlx::PgConnection;
use uuid::Uuid;

use super::meta;
use super::read::{PERSON_COLUMNS, PersonRow};
use crate::Ctx;
use crate::access::{self, DIRECTORY_WRITERS};
use crate::error::{AppError, AppResult, projected_unique_or};
use crate::events::person_stream;
use crate::personal_data::{self, PersonalFields};
use crate::write_model::record;

/// What a request asks to set; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Corrections {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub birth_date: Option<String>,
    pub position: Option<String>,
}

/// The fields that change, with their new values, or why the person has no such
/// field. A field asked with the value it holds is no change.
pub(crate) fn changes(
    kind: PersonKind,
    current: &Person,
    asked: &Corrections,
) -> Result<Corrections, String> {
    let refuse = |field: &str, whom: &str| Err(format!("a {whom} has no {field} in the directory"));
    match kind {
        PersonKind::Student if asked.phone.is_some() => return refuse("phone", "student"),
        PersonKind::Student if asked.position.is_some() => return refuse("position", "student"),
        PersonKind::Staff | PersonKind::Guardian if asked.birth_date.is_some() => {
            return refuse("birth_date", "staff member or guardian");
        }
        PersonKind::Guardian if asked.position.is_some() => return refuse("position", "guardian"),
        _ => {}
    }
    let differs = |asked: &Option<String>, held: &str| asked.clone().filter(|new| new != held);
    Ok(Corrections {
        full_name: differs(&asked.full_name, &current.full_name),
        phone: differs(&asked.phone, &current.phone),
        birth_date: differs(&asked.birth_date, &current.birth_date),
        position: differs(&asked.position, &current.position),
    })
}

impl Corrections {
    fn names(&self) -> Vec<String> {
        [
            ("full_name", &self.full_name),
            ("phone", &self.phone),
            ("birth_date", &self.birth_date),
            ("position", &self.position),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

pub(crate) async fn update_person(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    person_id: Uuid,
    asked: Corrections,
) -> AppResult<Person> {
    let mut conn = ctx.pool.acquire().await?;
    let (target, kind) = access::person(&mut conn, person_id).await?;
    access::living(&mut conn, person_id).await?;
    require_writer(&mut conn, caller, person_id, kind, &target).await?;
    drop(conn);
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let mut person = locked_person(tx, person_id).await?;
            let changed = changes(kind, &person, &asked).map_err(AppError::Rejected)?;
            let names = changed.names();
            if names.is_empty() {
                return Ok(person);
            }
            let district = target.district.unwrap_or_default();
            let event = PersonUpdated {
                person_id: person_id.to_string(),
                district_id: district.to_string(),
                school_id: target.school.map(|s| s.to_string()).unwrap_or_default(),
                person_kind: kind as i32,
                changed: names,
                position: changed.position.clone().unwrap_or_default(),
            };
            let personal = PersonalFields {
                full_name: changed.full_name.clone().unwrap_or_default(),
                phone: changed.phone.clone().unwrap_or_default(),
                birth_date: changed.birth_date.clone().unwrap_or_default(),
                ..PersonalFields::default()
            };
            let event = personal_data::sealed_event(tx, person_id, &event, &personal).await?;
            record(
                tx,
                &person_stream(person_id),
                &meta(&by, district, target.school),
                event,
            )
            .await
            .map_err(|e| {
                projected_unique_or(e, || {
                    "another person of the same kind already has this phone number".to_owned()
                })
            })?;
            let Corrections {
                full_name,
                phone,
                birth_date,
                position,
            } = changed;
            person.full_name = full_name.unwrap_or(person.full_name);
            person.phone = phone.unwrap_or(person.phone);
            person.birth_date = birth_date.unwrap_or(person.birth_date);
            person.position = position.unwrap_or(person.position);
            Ok(person)
        })
    })
    .await
}

/// Who corrects a person: the writers of their school's directory; for a
/// guardian, those of a school where a child studies; for the district office's
/// staff and for any guardian, the district's administrators and the mirror.
async fn require_writer(
    conn: &mut PgConnection,
    caller: &Caller,
    person_id: Uuid,
    kind: PersonKind,
    target: &Target,
) -> AppResult<()> {
    const DISTRICT_WRITERS: &[Role] = &[Role::Operator, Role::DistrictAdmin, Role::Mirror];
    let district = Target::district(target.district.unwrap_or_default());
    if caller.holds(DISTRICT_WRITERS, &district) {
        return Ok(());
    }
    let allowed = match (kind, target.school) {
        (PersonKind::Guardian, _) => {
            let schools: Vec<Uuid> = sqlx::query_scalar(
                "SELECT DISTINCT s.school_id FROM guardianships g JOIN people s ON s.id = g.student_id \
                 WHERE g.guardian_id = $1 AND s.school_id IS NOT NULL",
            )
            .bind(person_id)
            .fetch_all(conn)
            .await?;
            schools.into_iter().any(|school| {
                caller.holds(
                    DIRECTORY_WRITERS,
                    &Target::school(district.district.unwrap_or_default(), school),
                )
            })
        }
        (_, Some(_)) => caller.holds(DIRECTORY_WRITERS, target),
        (_, None) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(tonic::Status::permission_denied("you may not correct this person").into())
    }
}

async fn locked_person(tx: &mut PgConnection, person_id: Uuid) -> AppResult<Person> {
    let sql = format!("SELECT {PERSON_COLUMNS} FROM people p WHERE p.id = $1 FOR UPDATE");
    let row: PersonRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(person_id)
        .fetch_one(tx)
        .await?;
    Ok(Person::from(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(field: &str, value: &str) -> Corrections {
        let value = Some(value.to_owned());
        match field {
            "full_name" => Corrections {
                full_name: value,
                ..Corrections::default()
            },
            "phone" => Corrections {
                phone: value,
                ..Corrections::default()
            },
            "birth_date" => Corrections {
                birth_date: value,
                ..Corrections::default()
            },
            _ => Corrections {
                position: value,
                ..Corrections::default()
            },
        }
    }

    #[test]
    fn given_a_kind_and_a_field_then_the_change_is_recorded_refused_or_nothing() {
        let held = Person {
            full_name: "Nguyễn Văn An".to_owned(),
            phone: "+84901234567".to_owned(),
            birth_date: "2018-03-02".to_owned(),
            position: "Giáo viên".to_owned(),
            ..Person::default()
        };
        use PersonKind::{Guardian, Staff, Student};
        // (kind, field, value, the fields changed, or the refusal's words)
        type Row = (
            PersonKind,
            &'static str,
            &'static str,
            Result<&'static [&'static str], &'static str>,
        );
        let table: [Row; 10] = [
            (Student, "full_name", "Nguyễn Văn Ân", Ok(&["full_name"])),
            (Student, "full_name", "Nguyễn Văn An", Ok(&[])),
            (Student, "birth_date", "2018-03-20", Ok(&["birth_date"])),
            (Student, "phone", "+84901234568", Err("no phone")),
            (Student, "position", "Lớp trưởng", Err("no position")),
            (Staff, "phone", "+84901234568", Ok(&["phone"])),
            (Staff, "position", "Tổ trưởng", Ok(&["position"])),
            (Staff, "birth_date", "1990-01-01", Err("no birth_date")),
            (Guardian, "phone", "+84901234567", Ok(&[])),
            (Guardian, "position", "Giáo viên", Err("no position")),
        ];
        for (kind, field, value, expected) in table {
            let got = changes(kind, &held, &asked(field, value)).map(|c| c.names());
            match (expected, got) {
                (Ok(expected), Ok(names)) => assert_eq!(names, expected, "{kind:?} {field}"),
                (Err(says), Err(reason)) => assert!(reason.contains(says), "{reason}"),
                (expected, got) => panic!("{kind:?} {field}: {got:?}, expected {expected:?}"),
            }
        }
    }
}
