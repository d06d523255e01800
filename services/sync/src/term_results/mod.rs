//! Term results from the city database for the report cards: a school's term
//! read, each student's results checked against Circular 27/2020 (rules.rs),
//! kept, and published per class as `TermResultsImported` — levels and scores;
//! the teachers' comments stay here and are read with `GetTermResults`.

pub(crate) mod rules;

use std::collections::{BTreeMap, HashMap};

use kernel::command::idempotent;
use kernel::error::{AppError, AppResult};
use kernel::event_store::{
    EventMeta, ExpectedVersion, NewEvent, RequestKey, append, stream_version,
};
use lienlac_proto::sync::v1 as pb;
use uuid::Uuid;

use crate::Ctx;

/// Imports a school's results of `term` in the current school year.
pub(crate) async fn import(
    ctx: &Ctx,
    request: RequestKey,
    school_id: Uuid,
    term: i32,
) -> AppResult<pb::TermResultsImport> {
    let citydb = ctx.citydb.as_deref().ok_or_else(|| {
        AppError::Rejected(
            "no city database is configured for this lienlac (SYNC_CITYDB_URL)".to_owned(),
        )
    })?;
    let (district, school_code): (Uuid, String) =
        sqlx::query_as("SELECT district_id, external_ref FROM schools WHERE id = $1")
            .bind(school_id)
            .fetch_one(&ctx.pool)
            .await?;
    let school_year = school::dates::school_year_of(school::dates::local_today());
    let rows = citydb
        .term_results(&school_code, &school_year, term)
        .await
        .map_err(|e| AppError::Status(tonic::Status::unavailable(e.to_string())))?;
    let classes: Vec<(Uuid, String, i32)> = sqlx::query_as(
        "SELECT id, external_ref, grade FROM classes WHERE school_id = $1 AND school_year = $2 AND external_ref <> ''",
    )
    .bind(school_id)
    .bind(&school_year)
    .fetch_all(&ctx.pool)
    .await?;
    let class_of: HashMap<&str, (Uuid, i32)> = classes
        .iter()
        .map(|(id, code, grade)| (code.as_str(), (*id, *grade)))
        .collect();
    let students: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, external_ref FROM students WHERE school_id = $1 AND external_ref <> ''",
    )
    .bind(school_id)
    .fetch_all(&ctx.pool)
    .await?;
    let student_of: HashMap<&str, Uuid> = students
        .iter()
        .map(|(id, code)| (code.as_str(), *id))
        .collect();

    let mut errors = Vec::new();
    let mut by_class: BTreeMap<Uuid, Vec<(pb::StudentTermResult, String)>> = BTreeMap::new();
    let error = |code: &str, column: &str, message: String| pb::RowError {
        source: "citydb term results".to_owned(),
        line: 0,
        column: column.to_owned(),
        external_ref: code.to_owned(),
        message,
    };
    for row in rows {
        let (Some(&(class, grade)), Some(&student)) = (
            class_of.get(row.class_code.as_str()),
            student_of.get(row.student_code.as_str()),
        ) else {
            errors.push(error(
                &row.student_code,
                "student_code",
                format!(
                    "no student {} in class {} of lienlac",
                    row.student_code, row.class_code
                ),
            ));
            continue;
        };
        match rules::check(&row.result, grade) {
            Ok((subjects, qualities, competencies)) => by_class.entry(class).or_default().push((
                pb::StudentTermResult {
                    student_id: student.to_string(),
                    subjects,
                    qualities,
                    competencies,
                },
                row.comment,
            )),
            Err((column, message)) => errors.push(error(&row.student_code, column, message)),
        }
    }
    let students_count = by_class.values().map(Vec::len).sum::<usize>() as i32;
    let classes_count = by_class.len() as i32;
    let year = school_year.clone();
    let import = idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            for (class, results) in &by_class {
                for (result, comment) in results {
                    sqlx::query(
                        "INSERT INTO term_results (student_id, school_year, term, class_id, result, comment) \
                         VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (student_id, school_year, term) DO UPDATE SET class_id = $4, result = $5, comment = $6, imported_at = now()",
                    )
                    .bind(result.student_id.parse::<Uuid>().map_err(anyhow::Error::from)?)
                    .bind(&year)
                    .bind(term)
                    .bind(class)
                    .bind(sqlx::types::Json(result))
                    .bind(comment)
                    .execute(&mut *tx)
                    .await?;
                }
                let event = pb::TermResultsImported {
                    class_id: class.to_string(),
                    school_id: school_id.to_string(),
                    school_year: year.clone(),
                    term,
                    results: results.iter().map(|(result, _)| result.clone()).collect(),
                };
                let stream = format!("term-results:{class}:{year}:{term}");
                let version = stream_version(tx, &stream).await.map_err(anyhow::Error::from)?;
                append(
                    tx,
                    &stream,
                    ExpectedVersion::from_loaded(version),
                    &[NewEvent::from_message(&event).map_err(anyhow::Error::from)?],
                    &EventMeta::for_command(None).in_tenant(district, Some(school_id)),
                )
                .await?;
            }
            Ok::<_, AppError>(pb::TermResultsImport {
                school_year: year,
                term,
                classes: classes_count,
                students: students_count,
                row_errors: errors,
            })
        })
    })
    .await?;
    Ok(import)
}

/// A class's imported results of `term`, with the comments.
pub(crate) async fn of_class(
    ctx: &Ctx,
    class_id: Uuid,
    school_year: &str,
    term: i32,
) -> AppResult<pb::ClassTermResults> {
    let rows: Vec<(
        Uuid,
        sqlx::types::Json<pb::StudentTermResult>,
        String,
        time::OffsetDateTime,
    )> = sqlx::query_as(
        "SELECT student_id, result, comment, imported_at FROM term_results \
         WHERE class_id = $1 AND school_year = $2 AND term = $3 ORDER BY student_id",
    )
    .bind(class_id)
    .bind(school_year)
    .bind(term)
    .fetch_all(&ctx.pool)
    .await?;
    let imported_at = rows
        .iter()
        .map(|(.., at)| *at)
        .max()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    Ok(pb::ClassTermResults {
        class_id: class_id.to_string(),
        school_year: school_year.to_owned(),
        term,
        imported_at,
        comments: rows
            .iter()
            .map(|(student, _, comment, _)| (student.to_string(), comment.clone()))
            .collect(),
        results: rows.into_iter().map(|(_, result, ..)| result.0).collect(),
    })
}
