//! Who may read which report: each RPC against each kind of caller.

use lienlac_proto::reporting::v1 as pb;
use tonic::Code;

use crate::helpers::{Stack, with_token};

fn request<T>(token: Option<&str>, message: T) -> tonic::Request<T> {
    match token {
        Some(token) => with_token(message, token),
        None => tonic::Request::new(message),
    }
}

/// The status code of calling `rpc` with `token` (None: no token at all).
async fn code(stack: &Stack, rpc: &str, token: Option<&str>) -> Code {
    let today = stack.today();
    let mut client = stack.reporting.clone();
    let result = match rpc {
        "class" => client
            .get_class_attendance(request(
                token,
                pb::GetClassAttendanceRequest {
                    class_id: stack.class_id.clone(),
                    from_date: today.clone(),
                    to_date: today.clone(),
                },
            ))
            .await
            .map(|_| ()),
        "student" => client
            .get_student_absences(request(
                token,
                pb::GetStudentAbsencesRequest {
                    student_id: stack.students[0].clone(),
                    from_date: today.clone(),
                    to_date: today.clone(),
                },
            ))
            .await
            .map(|_| ()),
        "other_student" => client
            .get_student_absences(request(
                token,
                pb::GetStudentAbsencesRequest {
                    student_id: stack.other_student.clone(),
                    from_date: today.clone(),
                    to_date: today.clone(),
                },
            ))
            .await
            .map(|_| ()),
        "school" => client
            .get_school_daily_summary(request(
                token,
                pb::GetSchoolDailySummaryRequest {
                    school_id: stack.school_id.clone(),
                    date: today.clone(),
                },
            ))
            .await
            .map(|_| ()),
        "district" => client
            .get_district_daily_summary(request(
                token,
                pb::GetDistrictDailySummaryRequest {
                    district_id: stack.district_id.clone(),
                    date: today.clone(),
                },
            ))
            .await
            .map(|_| ()),
        "adoption_school" => client
            .get_adoption_report(request(
                token,
                pb::GetAdoptionReportRequest {
                    school_id: stack.school_id.clone(),
                    from_date: today.clone(),
                    to_date: today.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
        "adoption_district" => client
            .get_adoption_report(request(
                token,
                pb::GetAdoptionReportRequest {
                    district_id: stack.district_id.clone(),
                    from_date: today.clone(),
                    to_date: today.clone(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
        "export_class" => match client
            .export_attendance(request(
                token,
                pb::ExportAttendanceRequest {
                    class_id: stack.class_id.clone(),
                    month: today[..7].to_owned(),
                    format: pb::ExportFormat::Csv as i32,
                    ..Default::default()
                },
            ))
            .await
        {
            Ok(response) => {
                let mut chunks = response.into_inner();
                chunks.message().await.map(|_| ())
            }
            Err(status) => Err(status),
        },
        "list_projections" => client
            .list_projections(request(token, pb::ListProjectionsRequest {}))
            .await
            .map(|_| ()),
        other => panic!("no rpc {other}"),
    };
    match result {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test]
async fn each_report_answers_its_readers_and_refuses_everyone_else() {
    let stack = Stack::start().await;
    use Code::{Ok as Y, PermissionDenied as N};
    let callers: [(&str, &str); 8] = [
        ("guardian", &stack.guardian),
        ("homeroom", &stack.homeroom),
        ("other_homeroom", &stack.other_homeroom),
        ("principal", &stack.principal),
        ("other_school_principal", &stack.other_school_principal),
        ("district_admin", &stack.district_admin),
        ("other_district_admin", &stack.other_district_admin),
        ("operator", &stack.operator),
    ];
    #[rustfmt::skip]
    let table: [(&str, [Code; 8]); 9] = [
        //                      guardian homeroom other_hr principal other_p district other_d operator
        ("class",              [N,       Y,       N,       Y,        N,      Y,       N,      N]),
        ("student",            [Y,       Y,       N,       Y,        N,      Y,       N,      N]),
        ("other_student",      [N,       N,       Y,       Y,        N,      Y,       N,      N]),
        ("school",             [N,       N,       N,       Y,        N,      Y,       N,      N]),
        ("district",           [N,       N,       N,       N,        N,      Y,       N,      N]),
        ("adoption_school",    [N,       N,       N,       Y,        N,      Y,       N,      N]),
        ("adoption_district",  [N,       N,       N,       N,        N,      Y,       N,      N]),
        ("export_class",       [N,       Y,       N,       Y,        N,      Y,       N,      N]),
        ("list_projections",   [N,       N,       N,       N,        N,      N,       N,      Y]),
    ];
    let mut mismatches = Vec::new();
    for (rpc, expected) in table {
        assert_eq!(
            code(&stack, rpc, None).await,
            Code::Unauthenticated,
            "{rpc} without a token"
        );
        for ((who, token), want) in callers.iter().zip(expected) {
            let got = code(&stack, rpc, Some(token)).await;
            if got != want {
                mismatches.push(format!("{rpc} as {who}: {got:?}, expected {want:?}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong() {
    let stack = Stack::start().await;
    let mut client = stack.reporting.clone();
    let status = client
        .get_class_attendance(with_token(
            pb::GetClassAttendanceRequest {
                class_id: "1A1".into(),
                from_date: "2025-10-31".into(),
                to_date: "2025-10-01".into(),
            },
            &stack.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("class_id must be a UUID"),
        "{}",
        status.message()
    );
    let status = client
        .get_class_attendance(with_token(
            pb::GetClassAttendanceRequest {
                class_id: stack.class_id.clone(),
                from_date: "2025-10-31".into(),
                to_date: "2025-10-01".into(),
            },
            &stack.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("to_date must be on or after from_date"),
        "{}",
        status.message()
    );

    let status = client
        .get_school_daily_summary(with_token(
            pb::GetSchoolDailySummaryRequest {
                school_id: uuid::Uuid::now_v7().to_string(),
                date: stack.today(),
            },
            &stack.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let status = client
        .get_adoption_report(with_token(
            pb::GetAdoptionReportRequest {
                school_id: stack.school_id.clone(),
                district_id: stack.district_id.clone(),
                from_date: stack.today(),
                to_date: stack.today(),
            },
            &stack.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let status = client
        .export_attendance(with_token(
            pb::ExportAttendanceRequest {
                class_id: stack.class_id.clone(),
                month: "10/2025".into(),
                format: pb::ExportFormat::Unspecified as i32,
                ..Default::default()
            },
            &stack.principal,
        ))
        .await
        .err()
        .unwrap();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("month"), "{}", status.message());
    assert!(status.message().contains("format"), "{}", status.message());

    let status = client
        .rebuild_projections(with_token(
            pb::RebuildProjectionsRequest {
                name: "marks".into(),
            },
            &stack.operator,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("directory, attendance"),
        "{}",
        status.message()
    );
}
