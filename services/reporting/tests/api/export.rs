//! The month's sheet, as CSV and XLSX, with its Vietnamese text intact.

use std::io::Read as _;

use lienlac_proto::attendance::v1::AttendanceStatus::{AbsentExcused, AbsentUnexcused};
use lienlac_proto::reporting::v1 as pb;

use crate::helpers::{Stack, with_token};

async fn download(stack: &Stack, format: pb::ExportFormat, month: &str) -> (String, Vec<u8>) {
    let request = pb::ExportAttendanceRequest {
        class_id: stack.class_id.clone(),
        month: month.into(),
        format: format as i32,
        ..Default::default()
    };
    download_as(stack, request, &stack.homeroom).await
}

async fn download_as(
    stack: &Stack,
    request: pb::ExportAttendanceRequest,
    token: &str,
) -> (String, Vec<u8>) {
    let mut chunks = stack
        .reporting
        .clone()
        .export_attendance(with_token(request, token))
        .await
        .unwrap()
        .into_inner();
    let (mut name, mut data) = (String::new(), Vec::new());
    while let Some(chunk) = chunks.message().await.unwrap() {
        if name.is_empty() {
            name = chunk.file_name;
        }
        data.extend(chunk.data);
    }
    (name, data)
}

#[tokio::test]
async fn the_month_exports_as_csv_and_xlsx_with_vietnamese_headers_and_names() {
    let stack = Stack::start().await;
    let today = stack.today();
    let month = &today[..7];
    stack
        .submit(&today, &[(0, AbsentExcused), (1, AbsentUnexcused)])
        .await;
    stack.until_morning_counts(&today, [1, 1, 1, 0]).await;

    let (name, csv) = download(&stack, pb::ExportFormat::Csv, month).await;
    assert_eq!(name, format!("diem-danh-1a1-{month}.csv"));
    let text = String::from_utf8(csv).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte order mark for spreadsheet programs");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "STT,Lớp,Mã học sinh,Họ và tên,Ngày sinh,Vắng có phép,Vắng không phép,Tổng số buổi vắng,Đi trễ"
    );
    assert_eq!(lines.len(), 4);
    // By given name: Ánh, Bình, Cường.
    assert!(
        lines[1].contains(",Nguyễn Thị Ánh,2019-03-01,1,0,1,0"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(",Trần Văn Bình,2019-03-01,0,1,1,0"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].contains(",Lê Văn Cường,2019-03-01,0,0,0,0"),
        "{}",
        lines[3]
    );

    let (name, xlsx) = download(&stack, pb::ExportFormat::Xlsx, month).await;
    assert_eq!(name, format!("diem-danh-1a1-{month}.xlsx"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut sheet = String::new();
    archive
        .by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    let mut strings = String::new();
    if let Ok(mut shared) = archive.by_name("xl/sharedStrings.xml") {
        shared.read_to_string(&mut strings).unwrap();
    }
    let text = format!("{sheet}{strings}");
    for expected in [
        "Vắng có phép",
        "Vắng không phép",
        "Nguyễn Thị Ánh",
        "Trần Văn Bình",
        "Lê Văn Cường",
    ] {
        assert!(
            text.contains(expected),
            "{expected} missing from the workbook"
        );
    }
}

#[tokio::test]
async fn birth_dates_go_only_to_those_who_read_them() {
    let stack = Stack::start().await;
    let month = &stack.today()[..7];
    let school_sheet = || pb::ExportAttendanceRequest {
        school_id: stack.school_id.clone(),
        month: month.into(),
        format: pb::ExportFormat::Csv as i32,
        ..Default::default()
    };
    let birth_dates = |csv: Vec<u8>| {
        let text = String::from_utf8(csv).unwrap();
        text.lines()
            .skip(1)
            .map(|line| line.split(',').nth(4).unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let (_, for_principal) = download_as(&stack, school_sheet(), &stack.principal).await;
    let seen = birth_dates(for_principal);
    assert!(
        !seen.is_empty() && seen.iter().all(|date| date == "2019-03-01"),
        "{seen:?}"
    );
    let (_, for_viewer) = download_as(&stack, school_sheet(), &stack.district_viewer).await;
    let withheld = birth_dates(for_viewer);
    assert_eq!(withheld.len(), seen.len());
    assert!(withheld.iter().all(String::is_empty), "{withheld:?}");
}
