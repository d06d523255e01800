//! The month's attendance sheet a homeroom teacher hands in: one row per student
//! with sessions absent excused and unexcused, as CSV (UTF-8 with a byte order
//! mark, so spreadsheet programs read the Vietnamese right) or XLSX.

use kernel::csv::spreadsheet_safe;
use kernel::error::{AppError, AppResult};
use lienlac_proto::reporting::v1::ExportFormat;
use rust_xlsxwriter::{Format, Workbook};
use sqlx::PgPool;
use time::Date;
use uuid::Uuid;

use crate::peers::Peers;
use school::names::names_of;
use school::peers::Reader;

const HEADERS: [&str; 9] = [
    "STT",
    "Lớp",
    "Mã học sinh",
    "Họ và tên",
    "Ngày sinh",
    "Vắng có phép",
    "Vắng không phép",
    "Tổng số buổi vắng",
    "Đi trễ",
];

/// The sheet's scope: one class, or every class of a school.
pub(crate) enum Sheet {
    Class { id: Uuid, name: String },
    School { id: Uuid, name: String },
}

#[derive(sqlx::FromRow)]
pub(crate) struct StudentRow {
    class_name: String,
    student_id: Uuid,
    external_ref: String,
    #[sqlx(skip)]
    full_name: String,
    #[sqlx(skip)]
    birth_date: String,
    absent_excused: i64,
    absent_unexcused: i64,
    late: i64,
}

/// A file ready to send, and the students whose data it holds.
pub(crate) struct ExportFile {
    pub(crate) file_name: String,
    pub(crate) content_type: &'static str,
    pub(crate) data: Vec<u8>,
    pub(crate) students: Vec<Uuid>,
}

/// The sheet of `month`, with the names and birth dates identity shows `reader`.
pub(crate) async fn export(
    pool: &PgPool,
    (peers, reader): (&Peers, &Reader),
    sheet: &Sheet,
    month: &str,
    (first, last): (Date, Date),
    format: ExportFormat,
) -> AppResult<ExportFile> {
    let (filter, scope_id, scope_name) = match sheet {
        Sheet::Class { id, name } => ("c.id", *id, name),
        Sheet::School { id, name } => ("c.school_id", *id, name),
    };
    let mut rows: Vec<StudentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT c.name AS class_name, s.id AS student_id, s.external_ref, \
           count(m.status) FILTER (WHERE m.status = 2) AS absent_excused, \
           count(m.status) FILTER (WHERE m.status = 3) AS absent_unexcused, \
           count(m.status) FILTER (WHERE m.status = 4) AS late \
         FROM classes c \
         JOIN (SELECT DISTINCT class_id, student_id FROM enrolment_periods \
               WHERE from_date <= $3 AND (to_date IS NULL OR to_date > $2)) e ON e.class_id = c.id \
         JOIN students s ON s.id = e.student_id \
         LEFT JOIN marks m ON m.class_id = c.id AND m.student_id = s.id AND m.date BETWEEN $2 AND $3 \
         WHERE {filter} = $1 \
         GROUP BY c.grade, c.name, s.id, s.external_ref"
    )))
    .bind(scope_id)
    .bind(first)
    .bind(last)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.student_id).collect();
    let mut named = names_of(peers.directory(), reader, &ids).await?;
    for row in &mut rows {
        if let Some(name) = named.remove(&row.student_id) {
            row.full_name = name.full_name;
            row.birth_date = name.birth_date;
        }
    }
    // Vietnamese class lists go by given name (the last word), then the full name.
    rows.sort_by(|a, b| {
        let given = |row: &StudentRow| {
            school::text::fold(row.full_name.rsplit(' ').next().unwrap_or_default())
        };
        (a.class_name.len(), &a.class_name, given(a), &a.full_name).cmp(&(
            b.class_name.len(),
            &b.class_name,
            given(b),
            &b.full_name,
        ))
    });
    let base_name = format!("diem-danh-{}-{month}", file_safe(scope_name));
    match format {
        ExportFormat::Csv => Ok(ExportFile {
            file_name: format!("{base_name}.csv"),
            content_type: "text/csv; charset=utf-8",
            data: csv(&rows).map_err(|e| AppError::Unexpected(e.into()))?,
            students: ids,
        }),
        ExportFormat::Xlsx => Ok(ExportFile {
            file_name: format!("{base_name}.xlsx"),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            data: xlsx(&rows, scope_name, month).map_err(|e| AppError::Unexpected(e.into()))?,
            students: ids,
        }),
        ExportFormat::Unspecified => {
            Err(tonic::Status::invalid_argument("format: choose CSV or XLSX").into())
        }
    }
}

fn row_values(index: usize, row: &StudentRow) -> [String; 9] {
    [
        (index + 1).to_string(),
        row.class_name.clone(),
        row.external_ref.clone(),
        row.full_name.clone(),
        row.birth_date.clone(),
        row.absent_excused.to_string(),
        row.absent_unexcused.to_string(),
        (row.absent_excused + row.absent_unexcused).to_string(),
        row.late.to_string(),
    ]
}

fn csv(rows: &[StudentRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(HEADERS)?;
    for (index, row) in rows.iter().enumerate() {
        let values = row_values(index, row);
        writer.write_record(
            values
                .iter()
                .map(|cell| spreadsheet_safe(cell).into_owned()),
        )?;
    }
    writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))
}

fn xlsx(
    rows: &[StudentRow],
    scope_name: &str,
    month: &str,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Điểm danh")?;
    let bold = Format::new().set_bold();
    sheet.write_string_with_format(
        0,
        0,
        format!("Điểm danh tháng {month} — {scope_name}"),
        &bold,
    )?;
    for (column, header) in HEADERS.iter().enumerate() {
        sheet.write_string_with_format(2, column as u16, *header, &bold)?;
    }
    for (index, row) in rows.iter().enumerate() {
        let line = 3 + index as u32;
        sheet.write_number(line, 0, (index + 1) as f64)?;
        sheet.write_string(line, 1, &row.class_name)?;
        sheet.write_string(line, 2, &row.external_ref)?;
        sheet.write_string(line, 3, &row.full_name)?;
        sheet.write_string(line, 4, &row.birth_date)?;
        sheet.write_number(line, 5, row.absent_excused as f64)?;
        sheet.write_number(line, 6, row.absent_unexcused as f64)?;
        sheet.write_number(line, 7, (row.absent_excused + row.absent_unexcused) as f64)?;
        sheet.write_number(line, 8, row.late as f64)?;
    }
    for (column, width) in [6.0, 8.0, 14.0, 28.0, 12.0, 14.0, 16.0, 18.0, 8.0]
        .into_iter()
        .enumerate()
    {
        sheet.set_column_width(column as u16, width)?;
    }
    // Printed as handed in: landscape, one page wide, the headers on every page.
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_repeat_rows(2, 2)?;
    workbook.save_to_buffer()
}

/// ASCII letters, digits and `-`, for a file name every system accepts:
/// "Trường Tiểu học Tân Thông" → "truong-tieu-hoc-tan-thong".
fn file_safe(name: &str) -> String {
    let safe: String = school::text::fold(name)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    safe.split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_looks_like_a_formula_is_written_as_text() {
        let row = StudentRow {
            class_name: "1A1".to_owned(),
            student_id: Uuid::nil(),
            external_ref: "-1".to_owned(),
            full_name: "=HYPERLINK(\"http://x\")".to_owned(),
            birth_date: "2019-03-01".to_owned(),
            absent_excused: 0,
            absent_unexcused: 0,
            late: 0,
        };
        let text = String::from_utf8(csv(&[row]).unwrap()).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "1,1A1,'-1,\"'=HYPERLINK(\"\"http://x\"\")\",2019-03-01,0,0,0,0"
        );
    }
}
