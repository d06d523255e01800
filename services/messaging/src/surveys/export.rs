//! A survey's answers as an XLSX sheet for its sender: one row per child (or per
//! guardian) reached, class by class, with each question's answer and when it was
//! given. Students are named as identity lets the reader see them
//! (school/src/names.rs); messaging keeps no names.

use kernel::auth::Caller;
use kernel::error::{AppError, AppResult};
use lienlac_proto::messaging::v1 as pb;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use school::names::names_of;
use school::peers::Reader;
use uuid::Uuid;

use crate::Ctx;

/// An answer as a cell: the options chosen, the number or the text.
fn cell(question: &pb::Question, answer: &pb::AnswerValue) -> String {
    match pb::QuestionKind::try_from(question.kind).unwrap_or_default() {
        pb::QuestionKind::SingleChoice | pb::QuestionKind::MultipleChoice => answer
            .choices
            .iter()
            .filter_map(|choice| question.options.get(*choice as usize))
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
        pb::QuestionKind::Number => answer.number.to_string(),
        _ => answer.text.clone(),
    }
}

pub(crate) async fn export(
    ctx: &Ctx,
    caller: &Caller,
    reader: &Reader,
    survey_id: Uuid,
) -> AppResult<pb::SurveyExport> {
    let mut conn = ctx.pool.acquire().await?;
    let (survey, units) = super::units(&mut conn, caller, survey_id).await?;
    drop(conn);
    let students: Vec<Uuid> = units.iter().flat_map(|u| u.students.clone()).collect();
    let names = names_of(school::peers::directory(&ctx.identity), reader, &students).await?;
    let questions = &survey.questions.0;

    let sheet = || -> Result<Vec<u8>, XlsxError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name("Kết quả")?;
        let bold = Format::new().set_bold();
        sheet.write_string_with_format(0, 0, &survey.title, &bold)?;
        let mut headers = vec!["Lớp".to_owned(), "Học sinh".to_owned()];
        headers.extend(questions.iter().map(|q| q.prompt.clone()));
        headers.push("Trả lời lúc".to_owned());
        for (column, header) in headers.iter().enumerate() {
            sheet.write_string_with_format(2, column as u16, header, &bold)?;
        }
        for (index, unit) in units.iter().enumerate() {
            let line = 3 + index as u32;
            let named: Vec<&str> = unit
                .students
                .iter()
                .map(|s| {
                    names
                        .get(s)
                        .map_or("(không xem được)", |n| n.full_name.as_str())
                })
                .collect();
            sheet.write_string(line, 0, &unit.class_name)?;
            sheet.write_string(line, 1, named.join(", "))?;
            if let Some((answers, at)) = &unit.answers {
                for (q, question) in questions.iter().enumerate() {
                    if let Some(answer) = answers.iter().find(|a| a.question == q as i32) {
                        sheet.write_string(line, 2 + q as u16, cell(question, answer))?;
                    }
                }
                let at = school::dates::local_date(*at);
                sheet.write_string(line, 2 + questions.len() as u16, kernel::dates::format(at))?;
            }
        }
        sheet.set_column_width(1, 28)?;
        workbook.save_to_buffer()
    };
    let xlsx = sheet().map_err(|error| AppError::Unexpected(error.into()))?;
    Ok(pb::SurveyExport {
        file_name: format!("khao-sat-{survey_id}.xlsx"),
        xlsx,
    })
}
