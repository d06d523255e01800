//! Surveys, sign-ups and permission slips: a school's leaders or a homeroom
//! teacher ask the guardians of a school, a grade or a class (announcements'
//! rules say who may ask whom). The survey is an event, `SurveyCreated`, with its
//! questions kept in the stored form; whom it reached (each guardian with each
//! child and class, fixed at creation) and the answers (one per child, or per
//! guardian) are written by the commands as the guardians' own state. Answers are
//! checked and tallied by rules.rs.

pub(crate) mod export;
pub(crate) mod rules;

use std::collections::HashMap;

use kernel::auth::{Caller, Target};
use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{EventMeta, ExpectedVersion, NewEvent, RequestKey};
use kernel::write_model::append_and_project;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::audience::Scope;
use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::announcements::rules as announcing;
use crate::announcements::{self, Resolved};
use crate::write_model::{MessagingTables, kept};
use crate::{Ctx, cursor};

impl From<rules::Refusal> for AppError {
    fn from(refusal: rules::Refusal) -> Self {
        tonic::Status::invalid_argument(refusal.to_string()).into()
    }
}

pub(crate) struct NewSurvey {
    pub(crate) audience: pb::Audience,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) questions: Vec<pb::Question>,
    pub(crate) deadline: Option<OffsetDateTime>,
    pub(crate) per_child: bool,
}

pub(crate) async fn create(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewSurvey,
) -> AppResult<pb::Survey> {
    if matches!(
        new.audience.scope,
        Some(Scope::DistrictId(_) | Scope::Guardians(_))
    ) {
        return Err(tonic::Status::invalid_argument(
            "audience: a survey goes to a school, a grade or a class",
        )
        .into());
    }
    let resolved = announcements::resolve(&mut *ctx.pool.acquire().await?, &new.audience).await?;
    announcing::may_publish(caller, resolved.reach)?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let guardians = reach(tx, id, &resolved).await?;
            let event = pb::SurveyCreated {
                survey_id: id.to_string(),
                school_id: resolved
                    .school_id
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                audience: Some(new.audience.clone()),
                per_child: new.per_child,
                deadline: new.deadline.map(kernel::dates::rfc3339).unwrap_or_default(),
                author_account_id: by.account_id.to_string(),
                guardians,
            };
            let event = NewEvent::from_message(&event)
                .and_then(|event| event.keeping(kept::TITLE, &new.title))
                .and_then(|event| event.keeping(kept::DESCRIPTION, &new.description))
                .and_then(|event| event.keeping(kept::QUESTIONS, &new.questions))
                .map_err(anyhow::Error::from)?;
            let meta = EventMeta::for_command(Some(by.account_id.to_string()))
                .in_tenant(resolved.district_id, resolved.school_id);
            append_and_project(
                tx,
                &MessagingTables,
                &format!("survey:{id}"),
                ExpectedVersion::from_loaded(0),
                &[event],
                &meta,
            )
            .await?;
            Ok(survey(tx, id).await?.into())
        })
    })
    .await
}

/// Records whom the survey `id` reaches now: each guardian with each child of the
/// audience and the child's class. The number of guardians.
async fn reach(tx: &mut PgConnection, id: Uuid, resolved: &Resolved) -> AppResult<i64> {
    let now: OffsetDateTime = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let sql = format!(
        "INSERT INTO survey_recipients (survey_id, guardian_id, student_id, class_id) \
         SELECT DISTINCT $1::uuid, g.guardian_id, e.student_id, c.id FROM classes c \
         JOIN enrolment_periods e ON e.class_id = c.id AND e.to_date IS NULL \
         JOIN guardianships g ON g.student_id = e.student_id \
         WHERE {} AND c.school_year = $4",
        resolved.classes_sql
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(resolved.scope_id)
        .bind(resolved.grade)
        .bind(school::dates::school_year_of(school::dates::local_date(
            now,
        )))
        .execute(&mut *tx)
        .await?;
    Ok(sqlx::query_scalar(
        "SELECT count(DISTINCT guardian_id) FROM survey_recipients WHERE survey_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?)
}

#[derive(sqlx::FromRow)]
pub(crate) struct SurveyRow {
    pub(crate) id: Uuid,
    pub(crate) district_id: Uuid,
    pub(crate) school_id: Uuid,
    audience: Json<pb::Audience>,
    pub(crate) title: String,
    description: String,
    pub(crate) questions: Json<Vec<pb::Question>>,
    deadline: Option<OffsetDateTime>,
    pub(crate) per_child: bool,
    author_account_id: Uuid,
    created_at: OffsetDateTime,
    guardians: i64,
}

const SURVEY_COLUMNS: &str = "s.id, s.district_id, s.school_id, s.audience, s.title, \
    s.description, s.questions, s.deadline, s.per_child, s.author_account_id, s.created_at, s.guardians";

impl From<SurveyRow> for pb::Survey {
    fn from(row: SurveyRow) -> Self {
        pb::Survey {
            id: row.id.to_string(),
            school_id: row.school_id.to_string(),
            audience: Some(row.audience.0),
            title: row.title,
            description: row.description,
            questions: row.questions.0,
            deadline: row.deadline.map(kernel::dates::rfc3339).unwrap_or_default(),
            per_child: row.per_child,
            author_account_id: row.author_account_id.to_string(),
            created_at: kernel::dates::rfc3339(row.created_at),
            guardians: row.guardians,
        }
    }
}

pub(crate) async fn survey(conn: &mut PgConnection, id: Uuid) -> AppResult<SurveyRow> {
    let sql = format!("SELECT {SURVEY_COLUMNS} FROM surveys s WHERE s.id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("survey"))
}

/// The guardian's surveys after `cursor`, newest first, each with the children to
/// answer for and the answers given.
pub(crate) async fn list(
    ctx: &Ctx,
    caller: &Caller,
    cursor_text: &str,
    limit: i64,
) -> AppResult<pb::ListSurveysResponse> {
    let Some(guardian) = caller.person_id else {
        return Ok(pb::ListSurveysResponse::default());
    };
    let (before_at, before_id) = if cursor_text.is_empty() {
        (i64::MAX, Uuid::max())
    } else {
        cursor::decode(cursor_text)?
    };
    let mut conn = ctx.pool.acquire().await?;
    let sql = format!(
        "SELECT {SURVEY_COLUMNS} FROM surveys s \
         WHERE s.id IN (SELECT survey_id FROM survey_recipients WHERE guardian_id = $1) \
         AND ((extract(epoch FROM s.created_at) * 1000000)::bigint, s.id) < ($2, $3) \
         ORDER BY s.created_at DESC, s.id DESC LIMIT $4"
    );
    let rows: Vec<SurveyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(guardian)
        .bind(before_at)
        .bind(before_id)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let more = rows.len() as i64 > limit;
    let next_cursor = match (more, rows.get(limit as usize - 1)) {
        (true, Some(last)) => cursor::encode(
            (last.created_at.unix_timestamp_nanos() / 1_000) as i64,
            last.id,
        ),
        _ => String::new(),
    };
    let mut surveys = Vec::new();
    for row in rows.into_iter().take(limit as usize) {
        let children: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT student_id FROM survey_recipients WHERE survey_id = $1 AND guardian_id = $2",
        )
        .bind(row.id)
        .bind(guardian)
        .fetch_all(&mut *conn)
        .await?;
        let units: Vec<Uuid> = if row.per_child {
            children.clone()
        } else {
            vec![guardian]
        };
        let answers = answers_of(&mut conn, row.id, &units, row.per_child).await?;
        surveys.push(pb::SurveyForGuardian {
            student_ids: if row.per_child {
                children.iter().map(Uuid::to_string).collect()
            } else {
                Vec::new()
            },
            answers,
            survey: Some(row.into()),
        });
    }
    Ok(pb::ListSurveysResponse {
        surveys,
        next_cursor,
    })
}

async fn answers_of(
    conn: &mut PgConnection,
    survey: Uuid,
    units: &[Uuid],
    per_child: bool,
) -> AppResult<Vec<pb::SurveyAnswer>> {
    let rows: Vec<(Uuid, Json<Vec<pb::AnswerValue>>, OffsetDateTime)> = sqlx::query_as(
        "SELECT unit_id, answers, answered_at FROM survey_answers \
         WHERE survey_id = $1 AND unit_id = ANY($2) ORDER BY unit_id",
    )
    .bind(survey)
    .bind(units)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(unit, answers, at)| pb::SurveyAnswer {
            survey_id: survey.to_string(),
            student_id: if per_child {
                unit.to_string()
            } else {
                String::new()
            },
            answers: answers.0,
            answered_at: kernel::dates::rfc3339(at),
        })
        .collect())
}

/// A guardian answers (again, until the deadline) for themselves or, on a
/// per-child survey, for one of their children it reached.
pub(crate) async fn answer(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    survey_id: Uuid,
    student: Option<Uuid>,
    given: Vec<pb::AnswerValue>,
) -> AppResult<pb::SurveyAnswer> {
    let guardian = caller.person_id.unwrap_or_default();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let row = survey(tx, survey_id).await?;
            let children: Vec<Uuid> = sqlx::query_scalar(
                "SELECT student_id FROM survey_recipients WHERE survey_id = $1 AND guardian_id = $2",
            )
            .bind(survey_id)
            .bind(guardian)
            .fetch_all(&mut *tx)
            .await?;
            if children.is_empty() {
                return Err(tonic::Status::permission_denied(
                    "this survey was not sent to you",
                )
                .into());
            }
            let unit = match (row.per_child, student) {
                (true, Some(child)) if children.contains(&child) => child,
                (true, Some(_)) => {
                    return Err(tonic::Status::permission_denied(
                        "this survey did not ask you about that child",
                    )
                    .into());
                }
                (true, None) => {
                    return Err(tonic::Status::invalid_argument(
                        "student_id: this survey asks once per child: name the child",
                    )
                    .into());
                }
                (false, _) => guardian,
            };
            let now = OffsetDateTime::now_utc();
            if row.deadline.is_some_and(|deadline| deadline < now) {
                return Err(AppError::Rejected(
                    "the survey's deadline has passed".to_owned(),
                ));
            }
            let answers = rules::check_answers(&row.questions, &given)?;
            let answered_at: OffsetDateTime = sqlx::query_scalar(
                "INSERT INTO survey_answers (survey_id, unit_id, guardian_id, answers, answered_at) \
                 VALUES ($1, $2, $3, $4, now()) \
                 ON CONFLICT (survey_id, unit_id) DO UPDATE SET guardian_id = excluded.guardian_id, \
                 answers = excluded.answers, answered_at = excluded.answered_at \
                 RETURNING answered_at",
            )
            .bind(survey_id)
            .bind(unit)
            .bind(guardian)
            .bind(Json(&answers))
            .fetch_one(&mut *tx)
            .await?;
            Ok(pb::SurveyAnswer {
                survey_id: survey_id.to_string(),
                student_id: if row.per_child {
                    unit.to_string()
                } else {
                    String::new()
                },
                answers,
                answered_at: kernel::dates::rfc3339(answered_at),
            })
        })
    })
    .await
}

/// One who is to answer: their class, and their answers if given.
pub(crate) struct Unit {
    pub(crate) id: Uuid,
    pub(crate) class_id: Uuid,
    pub(crate) class_name: String,
    /// The children the unit stands for: the child, or the guardian's children in
    /// the class.
    pub(crate) students: Vec<Uuid>,
    pub(crate) answers: Option<(Vec<pb::AnswerValue>, OffsetDateTime)>,
}

/// The survey, if the caller may see its results, and each unit per class.
pub(crate) async fn units(
    conn: &mut PgConnection,
    caller: &Caller,
    survey_id: Uuid,
) -> AppResult<(SurveyRow, Vec<Unit>)> {
    let row = survey(conn, survey_id).await?;
    let scope = Target::school(row.district_id, row.school_id);
    if !announcing::may_see_receipts(caller, row.author_account_id == caller.account_id, &scope) {
        return Err(tonic::Status::permission_denied(
            "its sender, the school's leaders and the district's administrators see the results",
        )
        .into());
    }
    let recipients: Vec<(Uuid, Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT r.guardian_id, r.student_id, r.class_id, coalesce(c.name, '') \
         FROM survey_recipients r LEFT JOIN classes c ON c.id = r.class_id \
         WHERE r.survey_id = $1 ORDER BY c.name, r.class_id",
    )
    .bind(survey_id)
    .fetch_all(&mut *conn)
    .await?;
    let answered: Vec<(Uuid, Json<Vec<pb::AnswerValue>>, OffsetDateTime)> = sqlx::query_as(
        "SELECT unit_id, answers, answered_at FROM survey_answers WHERE survey_id = $1",
    )
    .bind(survey_id)
    .fetch_all(&mut *conn)
    .await?;
    let answers: HashMap<Uuid, (Vec<pb::AnswerValue>, OffsetDateTime)> = answered
        .into_iter()
        .map(|(unit, answers, at)| (unit, (answers.0, at)))
        .collect();
    let mut units: Vec<Unit> = Vec::new();
    let mut placed: HashMap<(Uuid, Uuid), usize> = HashMap::new();
    for (guardian, student, class_id, class_name) in recipients {
        let id = rules::unit(row.per_child, guardian, student);
        match placed.get(&(id, class_id)) {
            Some(&at) => {
                let unit = &mut units[at];
                if !unit.students.contains(&student) {
                    unit.students.push(student);
                }
            }
            None => {
                placed.insert((id, class_id), units.len());
                units.push(Unit {
                    id,
                    class_id,
                    class_name,
                    students: vec![student],
                    answers: answers.get(&id).cloned(),
                });
            }
        }
    }
    Ok((row, units))
}

pub(crate) async fn results(
    ctx: &Ctx,
    caller: &Caller,
    survey_id: Uuid,
) -> AppResult<pb::SurveyResults> {
    let mut conn = ctx.pool.acquire().await?;
    let (row, units) = units(&mut conn, caller, survey_id).await?;
    let mut classes: Vec<pb::ClassResults> = Vec::new();
    let mut missing = Vec::new();
    let mut class_ids: Vec<Uuid> = units.iter().map(|unit| unit.class_id).collect();
    class_ids.dedup();
    for class_id in class_ids {
        let in_class: Vec<&Unit> = units.iter().filter(|u| u.class_id == class_id).collect();
        let given: Vec<&[pb::AnswerValue]> = in_class
            .iter()
            .filter_map(|unit| unit.answers.as_ref().map(|(a, _)| a.as_slice()))
            .collect();
        for unit in in_class.iter().filter(|unit| unit.answers.is_none()) {
            if !missing.contains(&unit.id) {
                missing.push(unit.id);
            }
        }
        classes.push(pb::ClassResults {
            class_id: class_id.to_string(),
            class_name: in_class[0].class_name.clone(),
            expected: in_class.len() as i64,
            answered: given.len() as i64,
            questions: rules::tally(&row.questions, &given),
        });
    }
    Ok(pb::SurveyResults {
        survey: Some(row.into()),
        classes,
        missing_ids: missing.iter().map(Uuid::to_string).collect(),
    })
}
