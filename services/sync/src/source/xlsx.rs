//! A school's roster as the city database's spreadsheets carry it (the template of
//! docs/sync.md): one workbook per school with the sheets `Lớp` (classes),
//! `Cán bộ` (staff) and `Học sinh` (students with up to two guardians), each
//! with a header row. Columns are found by their header, whatever its case or
//! diacritics; dates are Excel dates or text written `dd/mm/yyyy` or
//! `yyyy-mm-dd`; a phone number typed as a number keeps its leading zero. The one
//! place that knows that format; a row that breaks it is a row error by sheet,
//! line and column.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader as _, Xlsx};

use super::oneroster::PackageError;
use super::{Place, RawClass, RawPerson, RawSchool, RawSchoolData, RawStudent, RowError};

const CLASSES: (&str, &[&str]) = ("Lớp", &["Mã lớp", "Tên lớp", "Khối", "Mã GVCN"]);
const STAFF: (&str, &[&str]) = (
    "Cán bộ",
    &["Mã cán bộ", "Họ và tên", "Điện thoại", "Chức vụ"],
);
const STUDENTS: (&str, &[&str]) = (
    "Học sinh",
    &[
        "Mã học sinh",
        "Họ và tên",
        "Ngày sinh",
        "Giới tính",
        "Mã lớp",
        "Ngày vào lớp",
        "Trạng thái",
        "Ngày nghỉ",
        "Mã PH 1",
        "Họ tên PH 1",
        "Điện thoại PH 1",
        "Quan hệ PH 1",
        "Mã PH 2",
        "Họ tên PH 2",
        "Điện thoại PH 2",
        "Quan hệ PH 2",
    ],
);
/// The columns a sheet cannot do without; the others may be absent.
const REQUIRED: &[&str] = &[
    "Mã lớp",
    "Tên lớp",
    "Khối",
    "Mã cán bộ",
    "Họ và tên",
    "Mã học sinh",
    "Ngày sinh",
    "Giới tính",
];

/// The template's column of a field normalisation names.
pub(crate) fn column_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "full_name" => "Họ và tên",
        "birth_date" => "Ngày sinh",
        "gender" => "Giới tính",
        "class_code" => "Mã lớp",
        "class_since" => "Ngày vào lớp",
        "status" => "Trạng thái",
        "left_on" => "Ngày nghỉ",
        "phone" => "Điện thoại",
        "grade" => "Khối",
        "name" => "Tên lớp",
        _ => return None,
    })
}

/// A sheet's rows as text by header, with their line.
struct Sheet {
    name: &'static str,
    rows: Vec<(u32, HashMap<&'static str, String>)>,
}

impl Sheet {
    fn place(&self, line: u32) -> Place {
        Place {
            source: self.name.to_owned(),
            line,
        }
    }
}

/// The school's roster in `bytes`, a workbook of the template.
pub(crate) fn read(
    bytes: &[u8],
    school: RawSchool,
    school_year: &str,
) -> Result<(RawSchoolData, Vec<RowError>), PackageError> {
    let mut workbook = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| PackageError::new(format!("is not an XLSX workbook: {e}")))?;
    let mut errors = Vec::new();
    let classes = sheet(&mut workbook, CLASSES)?;
    let staff = sheet(&mut workbook, STAFF)?;
    let students = sheet(&mut workbook, STUDENTS)?;
    let mut data = RawSchoolData {
        school,
        classes: Vec::new(),
        staff: Vec::new(),
        students: Vec::new(),
        guardians: Vec::new(),
    };
    for (line, row) in &classes.rows {
        data.classes.push(RawClass {
            at: classes.place(*line),
            code: row["Mã lớp"].clone(),
            name: row["Tên lớp"].clone(),
            grade: row["Khối"].clone(),
            school_year: school_year.to_owned(),
            homeroom_teacher_code: row.get("Mã GVCN").cloned().unwrap_or_default(),
            version: 1,
        });
    }
    for (line, row) in &staff.rows {
        data.staff.push(RawPerson {
            at: staff.place(*line),
            code: row["Mã cán bộ"].clone(),
            full_name: row["Họ và tên"].clone(),
            phone: row.get("Điện thoại").cloned().unwrap_or_default(),
            position: row.get("Chức vụ").cloned().unwrap_or_default(),
            version: 1,
        });
    }
    for (line, row) in &students.rows {
        let text = |column: &str| row.get(column).cloned().unwrap_or_default();
        let code = text("Mã học sinh");
        let status = match school::text::fold(&text("Trạng thái")).as_str() {
            "" | "dang hoc" => "studying".to_owned(),
            "da nghi" | "nghi hoc" | "chuyen truong" => "left".to_owned(),
            other => {
                errors.push(RowError {
                    at: students.place(*line),
                    column: "Trạng thái".to_owned(),
                    external_ref: code.clone(),
                    message: format!("{other:?} is neither Đang học nor Đã nghỉ"),
                });
                continue;
            }
        };
        let mut guardians = Vec::new();
        for n in ["1", "2"] {
            let guardian_code = text(&format!("Mã PH {n}"));
            if guardian_code.is_empty() {
                continue;
            }
            guardians.push((guardian_code.clone(), text(&format!("Quan hệ PH {n}"))));
            data.guardians.push(RawPerson {
                at: students.place(*line),
                code: guardian_code,
                full_name: text(&format!("Họ tên PH {n}")),
                phone: text(&format!("Điện thoại PH {n}")),
                position: String::new(),
                version: 1,
            });
        }
        data.students.push(RawStudent {
            at: students.place(*line),
            code,
            full_name: text("Họ và tên"),
            birth_date: text("Ngày sinh"),
            gender: text("Giới tính"),
            class_code: text("Mã lớp"),
            class_since: text("Ngày vào lớp"),
            status,
            left_on: text("Ngày nghỉ"),
            guardians,
            version: 1,
        });
    }
    Ok((data, errors))
}

/// A sheet of the template: found by its name (diacritics and case aside), its
/// columns by their headers.
fn sheet(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    (name, columns): (&'static str, &[&'static str]),
) -> Result<Sheet, PackageError> {
    let folded = school::text::fold(name);
    let found = workbook
        .sheet_names()
        .into_iter()
        .find(|sheet| school::text::fold(sheet) == folded)
        .ok_or_else(|| PackageError::new(format!("has no sheet {name}")))?;
    let range = workbook
        .worksheet_range(&found)
        .map_err(|e| PackageError::new(format!("sheet {name}: {e}")))?;
    let first_line = range.start().map_or(1, |(row, _)| row + 1);
    let mut rows = range.rows();
    let Some(header) = rows.next() else {
        return Ok(Sheet {
            name,
            rows: Vec::new(),
        });
    };
    let mut at: HashMap<&'static str, usize> = HashMap::new();
    for (index, cell) in header.iter().enumerate() {
        let title = school::text::fold(&text(cell));
        if let Some(column) = columns.iter().find(|c| school::text::fold(c) == title) {
            at.insert(column, index);
        }
    }
    if let Some(missing) = columns
        .iter()
        .find(|c| REQUIRED.contains(c) && !at.contains_key(*c))
    {
        return Err(PackageError::new(format!(
            "sheet {name} has no column {missing}"
        )));
    }
    let date_columns = ["Ngày sinh", "Ngày vào lớp", "Ngày nghỉ"];
    let phone_columns = ["Điện thoại", "Điện thoại PH 1", "Điện thoại PH 2"];
    let mut read = Vec::new();
    for (offset, cells) in rows.enumerate() {
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let line = first_line + 1 + offset as u32;
        let values = at
            .iter()
            .map(|(column, index)| {
                let cell = cells.get(*index).unwrap_or(&Data::Empty);
                let value = if date_columns.contains(column) {
                    date(cell)
                } else if phone_columns.contains(column) {
                    phone(cell)
                } else {
                    text(cell)
                };
                (*column, value)
            })
            .collect();
        read.push((line, values));
    }
    Ok(Sheet { name, rows: read })
}

/// A cell as text; a whole number without its `.0`.
fn text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(text) => text.trim().to_owned(),
        Data::Float(number) if number.fract() == 0.0 => format!("{}", *number as i64),
        Data::Int(number) => number.to_string(),
        other => other.to_string().trim().to_owned(),
    }
}

/// A date cell as `YYYY-MM-DD`: an Excel date, or text `dd/mm/yyyy` as schools
/// type it; anything else as written, for normalisation to refuse.
fn date(cell: &Data) -> String {
    if let Data::DateTime(at) = cell {
        let (year, month, day, ..) = at.to_ymd_hms_milli();
        return format!("{year:04}-{month:02}-{day:02}");
    }
    let written = text(cell);
    let parts: Vec<&str> = written.split(['/', '-', '.']).collect();
    match parts.as_slice() {
        [day, month, year] if year.len() == 4 && day.len() <= 2 && month.len() <= 2 => {
            match (day.parse::<u8>(), month.parse::<u8>()) {
                (Ok(day), Ok(month)) => format!("{year}-{month:02}-{day:02}"),
                _ => written,
            }
        }
        _ => written,
    }
}

/// A phone cell: a number typed without its leading zero gets it back.
fn phone(cell: &Data) -> String {
    let written = text(cell);
    if matches!(cell, Data::Float(_) | Data::Int(_)) && written.len() == 9 {
        format!("0{written}")
    } else {
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_phones_come_as_schools_type_them() {
        let table = [
            (Data::String("05/09/2019".to_owned()), "2019-09-05"),
            (Data::String("2019-09-05".to_owned()), "2019-09-05"),
            (Data::String("5/9/2019".to_owned()), "2019-09-05"),
            (Data::String("30/02/2019".to_owned()), "2019-02-30"),
            (Data::String("mùng 5".to_owned()), "mùng 5"),
            (Data::Empty, ""),
        ];
        for (cell, expected) in table {
            assert_eq!(date(&cell), expected, "{cell:?}");
        }
        assert_eq!(phone(&Data::Float(912_345_678.0)), "0912345678");
        assert_eq!(
            phone(&Data::String("0912 345 678".to_owned())),
            "0912 345 678"
        );
        assert_eq!(text(&Data::Float(3.0)), "3");
    }
}
