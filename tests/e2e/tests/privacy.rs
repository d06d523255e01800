//! A child's data, as the law lets the school and the guardian see its use: every
//! read of a student's personal data, in every service, is logged with who, in
//! which role and through what; the principal, the district and the guardian list
//! those reads, others may not; and a guardian obtains everything lienlac holds
//! about their child as one JSON document, and nothing about another child.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::time::Duration;

use kernel::testing::{channel, eventually, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::messaging::v1 as msg;
use lienlac_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use lienlac_proto::privacy::v1 as privacy;
use lienlac_proto::privacy::v1::privacy_service_client::PrivacyServiceClient;
use lienlac_proto::reporting::v1 as rep;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use lienlac_test_stack::{SchoolDay, start_school_day};
use lienlac_test_support::today;
use tokio_util::sync::CancellationToken;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn reads_of_a_childs_data_are_listed_and_a_guardian_gets_all_of_it() {
    let world = kernel::testing::TestWorld::new();
    let stop = CancellationToken::new();
    let SchoolDay {
        identity,
        attendance,
        messaging,
        reporting,
        school,
    } = start_school_day(&world, &stop).await;
    let child = school.students[0].clone();
    let other_child = school.students[1].clone();

    // The homeroom teacher takes the roll call (the child absent, with a note) and
    // reads it back; the guardian asks for a leave; the principal opens the
    // child's record; the guardian reads the child's absences.
    let mut roll_calls = AttendanceServiceClient::new(channel(attendance));
    let roll_call = att::SubmitRollCallRequest {
        request_id: request_id(),
        class_id: school.class_id.clone(),
        date: today(),
        session: att::Session::Morning as i32,
        marks: vec![att::Mark {
            student_id: child.clone(),
            status: att::AttendanceStatus::AbsentUnexcused as i32,
            note: "không liên lạc được".into(),
            ..Default::default()
        }],
        taken_at: String::new(),
    };
    roll_calls
        .submit_roll_call(with_token(roll_call, &school.homeroom))
        .await
        .unwrap();
    roll_calls
        .get_roll_call(with_token(
            att::GetRollCallRequest {
                class_id: school.class_id.clone(),
                date: today(),
                session: att::Session::Morning as i32,
            },
            &school.homeroom,
        ))
        .await
        .unwrap();
    roll_calls
        .request_leave(with_token(
            att::RequestLeaveRequest {
                request_id: request_id(),
                student_id: child.clone(),
                from_date: today(),
                to_date: today(),
                sessions: vec![att::Session::Afternoon as i32],
                reason: "Đi khám răng".into(),
            },
            &school.guardian,
        ))
        .await
        .unwrap();
    DirectoryServiceClient::new(channel(identity))
        .get_person(with_token(
            id::GetPersonRequest {
                person_id: child.clone(),
            },
            &school.principal,
        ))
        .await
        .unwrap();
    let mut reports = ReportingServiceClient::new(channel(reporting));
    eventually(
        "the absence in the guardian's view",
        Duration::from_secs(10),
        || {
            let mut reports = reports.clone();
            let request = with_token(
                rep::GetStudentAbsencesRequest {
                    student_id: child.clone(),
                    from_date: today(),
                    to_date: today(),
                },
                &school.guardian,
            );
            async move {
                let absences = reports.get_student_absences(request).await.ok()?;
                (!absences.into_inner().months.is_empty()).then_some(())
            }
        },
    )
    .await;
    reports
        .get_class_attendance(with_token(
            rep::GetClassAttendanceRequest {
                class_id: school.class_id.clone(),
                from_date: today(),
                to_date: today(),
            },
            &school.principal,
        ))
        .await
        .unwrap();

    // The reads, from all three services, as the principal lists them.
    let mut privacy = PrivacyServiceClient::new(channel(reporting));
    let period = |student: &str| privacy::ListDataAccessRequest {
        student_id: student.to_owned(),
        from_date: today(),
        to_date: today(),
    };
    let reads = privacy
        .list_data_access(with_token(period(&child), &school.principal))
        .await
        .unwrap()
        .into_inner()
        .reads;
    let seen = |service: &str, what: &str, role: &str| {
        reads.iter().any(|read| {
            read.service == service && read.what == what && read.roles.iter().any(|r| r == role)
        })
    };
    assert!(
        seen("attendance", "attendance.GetRollCall", "homeroom_teacher"),
        "{reads:#?}"
    );
    assert!(
        seen("identity", "identity.GetPerson", "principal"),
        "{reads:#?}"
    );
    assert!(
        seen("reporting", "reporting.GetStudentAbsences", "guardian"),
        "{reads:#?}"
    );
    assert!(
        seen("reporting", "reporting.GetClassAttendance", "principal"),
        "{reads:#?}"
    );
    assert!(
        seen("identity", "identity.DescribeStudents", "principal"),
        "reporting's names are read with the principal's own token: {reads:#?}"
    );
    assert!(
        reads
            .windows(2)
            .all(|pair| pair[0].read_at <= pair[1].read_at)
    );

    // The district and the guardian may list them; a teacher and another school
    // may not.
    for token in [&school.district_admin, &school.guardian] {
        privacy
            .list_data_access(with_token(period(&child), token))
            .await
            .unwrap();
    }
    for token in [
        &school.homeroom,
        &school.other_school_principal,
        &school.other_district_admin,
    ] {
        let refused = privacy
            .list_data_access(with_token(period(&child), token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    let refused = privacy
        .list_data_access(with_token(period(&other_child), &school.guardian))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // The guardian writes in the class group (once messaging knows the class).
    eventually("the class group", Duration::from_secs(10), || {
        let mut group = MessagingServiceClient::new(channel(messaging));
        let request = with_token(
            msg::PostMessageRequest {
                request_id: request_id(),
                conversation_id: school.class_id.clone(),
                body: "Cháu xin nghỉ chiều nay".into(),
                reply_to: String::new(),
                attachment_ids: Vec::new(),
            },
            &school.guardian,
        );
        async move { group.post_message(request).await.ok() }
    })
    .await;

    // The guardian's copy: the child's record, the guardian's own, every mark and
    // leave request, the conversations about the child, who read them; nothing of
    // another child.
    let export = privacy
        .export_my_child_data(with_token(
            privacy::ExportMyChildDataRequest {
                student_id: child.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(export.file_name.ends_with(".json"), "{}", export.file_name);
    let document: serde_json::Value = serde_json::from_str(&export.document_json).unwrap();
    assert_eq!(document["student"]["id"], child.as_str());
    assert_eq!(document["student"]["full_name"], "Nguyễn Thị Ánh");
    assert_eq!(document["student"]["birth_date"], "2019-03-01");
    assert_eq!(document["student"]["class_id"], school.class_id.as_str());
    assert_eq!(document["guardians"][0]["full_name"], "Nguyễn Văn Em");
    let marks = document["attendance"]["marks"].as_array().unwrap();
    assert!(
        marks.iter().any(|mark| mark["date"] == today().as_str()
            && mark["status"] == att::AttendanceStatus::AbsentUnexcused as i32
            && mark["note"] == "không liên lạc được"),
        "{marks:#?}"
    );
    let leaves = document["attendance"]["leave_requests"].as_array().unwrap();
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0]["reason"], "Đi khám răng");
    assert!(!document["reads"].as_array().unwrap().is_empty());
    let conversations = document["messages"].as_array().unwrap();
    assert_eq!(conversations.len(), 1, "{conversations:#?}");
    assert_eq!(
        conversations[0]["conversation"]["id"],
        school.class_id.as_str()
    );
    assert_eq!(
        conversations[0]["messages"][0]["body"],
        "Cháu xin nghỉ chiều nay"
    );
    for other in ["Trần Văn Bình", "Lê Văn Cường", other_child.as_str()] {
        assert!(
            !export.document_json.contains(other),
            "another child's {other} in the copy"
        );
    }
    for token in [&school.principal, &school.homeroom] {
        let refused = privacy
            .export_my_child_data(with_token(
                privacy::ExportMyChildDataRequest {
                    student_id: child.clone(),
                },
                token,
            ))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    let refused = privacy
        .export_my_child_data(with_token(
            privacy::ExportMyChildDataRequest {
                student_id: other_child.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Attendance's record of the child, which the copy is made from: the child's
    // guardians, homeroom teacher, school and district; not another class's
    // teacher, another school or another child's guardian.
    let record = |student: &str, token: &str| {
        let mut roll_calls = roll_calls.clone();
        let request = with_token(
            att::ExportStudentRecordRequest {
                student_id: student.to_owned(),
            },
            token,
        );
        async move {
            roll_calls
                .export_student_record(request)
                .await
                .map(|r| r.into_inner())
        }
    };
    for token in [
        &school.guardian,
        &school.homeroom,
        &school.principal,
        &school.district_admin,
    ] {
        let got = record(&child, token).await.unwrap();
        assert!(got.marks.iter().all(|mark| !mark.class_id.is_empty()));
        assert_eq!(got.leave_requests.len(), 1);
    }
    for (student, token) in [
        (&child, &school.other_homeroom),
        (&child, &school.other_school_principal),
        (&child, &school.other_district_admin),
        (&other_child, &school.guardian),
    ] {
        let refused = record(student, token).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    }
    stop.cancel();
}
