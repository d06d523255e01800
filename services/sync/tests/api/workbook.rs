//! One school's roster from a workbook of the city database's template: Excel
//! dates and dates typed dd/mm/yyyy, phone numbers typed as numbers, Vietnamese
//! words for sex, status and relation; its faulty rows reported by sheet, line
//! and the template's column.

use citydb_sim::{City, Faults};
use lienlac_proto::sync::v1 as pb;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::helpers::*;

const SCHOOL: &str = "79999001";

/// The school's roster as its IT officer would export it.
fn workbook(city: &City) -> Vec<u8> {
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let classes = book.add_worksheet().set_name("Lớp").unwrap();
    for (col, title) in ["Mã lớp", "Tên lớp", "Khối", "Mã GVCN"].iter().enumerate() {
        classes.write_string(0, col as u16, *title).unwrap();
    }
    for (n, class) in city
        .classes
        .iter()
        .filter(|c| c.school_code == SCHOOL)
        .enumerate()
    {
        let row = n as u32 + 1;
        classes.write_string(row, 0, &class.code).unwrap();
        classes.write_string(row, 1, &class.name).unwrap();
        classes
            .write_number(row, 2, f64::from(class.grade))
            .unwrap();
        classes
            .write_string(row, 3, &class.homeroom_teacher_code)
            .unwrap();
    }
    let staff = book.add_worksheet().set_name("Cán bộ").unwrap();
    for (col, title) in ["Mã cán bộ", "Họ và tên", "Điện thoại", "Chức vụ"]
        .iter()
        .enumerate()
    {
        staff.write_string(0, col as u16, *title).unwrap();
    }
    for (n, person) in city
        .staff
        .iter()
        .filter(|s| s.school_code == SCHOOL)
        .enumerate()
    {
        let row = n as u32 + 1;
        staff.write_string(row, 0, &person.code).unwrap();
        staff.write_string(row, 1, &person.full_name).unwrap();
        // Typed as a number: the leading zero is gone.
        staff
            .write_number(row, 2, person.phone.parse::<f64>().unwrap())
            .unwrap();
        staff.write_string(row, 3, &person.position).unwrap();
    }
    let students = book.add_worksheet().set_name("Học sinh").unwrap();
    let titles = [
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
    ];
    for (col, title) in titles.iter().enumerate() {
        students.write_string(0, col as u16, *title).unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let listed = city
        .students
        .iter()
        .filter(|s| s.school_code == SCHOOL && seen.insert(s.code.clone()));
    for (n, student) in listed.enumerate() {
        let row = n as u32 + 1;
        students.write_string(row, 0, &student.code).unwrap();
        students.write_string(row, 1, &student.full_name).unwrap();
        let parts: Vec<u16> = student
            .birth_date
            .split('-')
            .map(|p| p.parse().unwrap())
            .collect();
        match ExcelDateTime::from_ymd(parts[0], parts[1] as u8, parts[2] as u8) {
            // Every other date typed as text, as schools do.
            Ok(at) if n % 2 == 0 => {
                students
                    .write_datetime_with_format(row, 2, &at, &date)
                    .unwrap();
            }
            _ => {
                students
                    .write_string(
                        row,
                        2,
                        format!("{:02}/{:02}/{}", parts[2], parts[1], parts[0]),
                    )
                    .unwrap();
            }
        }
        students
            .write_string(
                row,
                3,
                if student.gender == "female" {
                    "Nữ"
                } else {
                    "Nam"
                },
            )
            .unwrap();
        students.write_string(row, 4, &student.class_code).unwrap();
        students.write_string(row, 6, "Đang học").unwrap();
        for (g, link) in student.guardians.iter().enumerate() {
            let guardian = &city.guardians[&link.guardian_code];
            let col = 8 + 4 * g as u16;
            students.write_string(row, col, &guardian.code).unwrap();
            students
                .write_string(row, col + 1, &guardian.full_name)
                .unwrap();
            students
                .write_string(row, col + 2, &guardian.phone)
                .unwrap();
            students
                .write_string(
                    row,
                    col + 3,
                    if link.relation == "father" {
                        "Bố"
                    } else {
                        "Mẹ"
                    },
                )
                .unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schools_workbook_is_mirrored_and_its_faulty_rows_named_by_sheet_line_and_column() {
    let year = school_year();
    let stack = Stack::start(small_city(&year), Faults::default()).await;
    let run = stack.finished(&stack.run_of_unit(false).await).await;
    let district = stack.export_district(&run.district_id).await;
    let school_id = district.schools[0].id.clone();

    // The school's officer corrects a name and adds a student in the workbook.
    let mut city = stack.simulator.city();
    let renamed = city.students[0].code.clone();
    city.students[0].full_name = "Võ Minh Long Ân".to_owned();
    let mut newcomer = city.students[1].clone();
    newcomer.code = "7900009999".to_owned();
    newcomer.full_name = "Lâm Gia Bảo".to_owned();
    newcomer.birth_date = "2020-04-05".to_owned();
    city.students.push(newcomer);
    std::fs::write(
        drop_dir(&stack.world).join("79999001.xlsx"),
        workbook(&city),
    )
    .unwrap();

    let started = stack
        .start_run(pb::StartSyncRunRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            mode: pb::SyncMode::Full as i32,
            source_file: "79999001.xlsx".to_owned(),
            ..Default::default()
        })
        .await;
    let finished = stack.finished(&started).await;
    let mut planned: Vec<(&str, &str)> = finished
        .changes
        .iter()
        .map(|c| (c.kind.as_str(), c.external_ref.as_str()))
        .collect();
    planned.sort();
    let guardian_of_newcomer = city.students[1].guardians[0].guardian_code.clone();
    let mut wanted = vec![
        ("link_guardian", guardian_of_newcomer.as_str()),
        ("register_student", "7900009999"),
        ("update_person", renamed.as_str()),
    ];
    if city.students[1].guardians.len() > 1 {
        wanted.push((
            "link_guardian",
            city.students[1].guardians[1].guardian_code.as_str(),
        ));
    }
    wanted.sort();
    assert_eq!(planned, wanted);
    let errors: Vec<(&str, &str)> = finished
        .row_errors
        .iter()
        .map(|e| (e.source.as_str(), e.column.as_str()))
        .collect();
    assert!(errors.contains(&("Học sinh", "Ngày sinh")), "{errors:?}");
    assert!(
        finished.row_errors.iter().all(|e| e.line > 1),
        "lines of the sheet"
    );

    let export = stack.export_school(&school_id).await;
    let mut source = stack.simulator.city();
    source.students[0].full_name = "Võ Minh Long Ân".to_owned();
    let newcomer = city.students.last().unwrap().clone();
    source.students.push(newcomer);
    assert_eq!(held(&export), expected(&source, SCHOOL));

    let refused = stack
        .sync()
        .start_sync_run(with_token(
            pb::StartSyncRunRequest {
                request_id: rid(),
                district_id: run.district_id.clone(),
                mode: pb::SyncMode::Full as i32,
                source_file: "79999001.xlsx".to_owned(),
                ..Default::default()
            },
            &stack.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
}
