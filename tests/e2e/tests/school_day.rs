//! A school morning end to end: a homeroom teacher signs in and submits a roll
//! call with two absentees; a plain NATS subscriber receives the events with their
//! CloudEvents headers; the school's summary shows the absences within two
//! seconds; a correction moves the figures; a guardian reads their child's absence
//! and not another child's; and the RPC, the relay and the reporting consumer
//! share one trace. Its own test binary: it installs the process-wide tracer.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kernel::telemetry::{self, TelemetrySettings};
use kernel::testing::otlp::{attribute, start_collector};
use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::reporting::v1 as rep;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use lienlac_test_stack::{SchoolDay, start_school_day};
use lienlac_test_support::{PASSWORD, today};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tonic::Code;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn header(message: &async_nats::Message, name: &str) -> String {
    message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(name))
        .map(|value| value.as_str().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_school_morning_from_the_roll_call_to_the_figures_in_one_trace() {
    let (collector, mut spans) = start_collector().await.unwrap();
    let tracing = telemetry::init(&TelemetrySettings {
        service_name: "lienlac-e2e".to_owned(),
        otlp_endpoint: Some(collector),
        json_logs: true,
    })
    .unwrap();

    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let SchoolDay {
        identity,
        attendance: attendance_addr,
        reporting: reporting_addr,
        school,
        ..
    } = start_school_day(&world, &stop).await;

    // An outside system listening with plain NATS, no JetStream.
    let nats = world.nats().await;
    let mut published = nats
        .subscribe(format!(
            "{}.lienlac.attendance.v1.{}.{}.>",
            world.namespace, school.district_id, school.school_id
        ))
        .await
        .unwrap();

    // The homeroom teacher signs in and marks two students absent.
    let token = AuthServiceClient::new(channel(identity))
        .login(id::LoginRequest {
            username: school.homeroom_username.clone(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut attendance = AttendanceServiceClient::new(channel(attendance_addr));
    let date = today();
    let absent = [
        (&school.students[0], att::AttendanceStatus::AbsentExcused),
        (&school.students[1], att::AttendanceStatus::AbsentUnexcused),
    ];
    attendance
        .submit_roll_call(with_token(
            att::SubmitRollCallRequest {
                request_id: request_id(),
                class_id: school.class_id.clone(),
                date: date.clone(),
                session: att::Session::Morning as i32,
                marks: absent
                    .iter()
                    .map(|(student, status)| att::Mark {
                        student_id: (*student).clone(),
                        status: *status as i32,
                        ..Default::default()
                    })
                    .collect(),
                taken_at: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
    let accepted = Instant::now();

    // The events, as the subscriber receives them.
    let mut received = HashMap::<String, Vec<async_nats::Message>>::new();
    while received.values().map(Vec::len).sum::<usize>() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(10), published.next())
            .await
            .expect("the roll call's events within 10 s")
            .unwrap();
        received
            .entry(header(&message, "ce-type"))
            .or_default()
            .push(message);
    }
    let submitted = &received["lienlac.attendance.v1.RollCallSubmitted"];
    let absences = &received["lienlac.attendance.v1.StudentAbsenceRecorded"];
    assert_eq!((submitted.len(), absences.len()), (1, 2));
    let roll_call_event = &submitted[0];
    assert!(roll_call_event.subject.ends_with(".RollCallSubmitted"));
    for name in [
        "ce-id",
        "ce-source",
        "ce-time",
        "ce-subject",
        "ce-sequence",
        "traceparent",
    ] {
        assert!(!header(roll_call_event, name).is_empty(), "{name} missing");
    }
    assert_eq!(header(roll_call_event, "ce-specversion"), "1.0");
    assert_eq!(
        header(roll_call_event, "ce-datacontenttype"),
        "application/protobuf"
    );
    let event = att::RollCallSubmitted::decode(roll_call_event.payload.clone()).unwrap();
    assert_eq!(event.class_id, school.class_id);
    assert_eq!(event.marks.len(), 3, "every student's mark");
    let mut absent_students: Vec<String> = absences
        .iter()
        .map(|message| {
            att::StudentAbsenceRecorded::decode(message.payload.clone())
                .unwrap()
                .student_id
        })
        .collect();
    absent_students.sort();
    let mut expected: Vec<String> = absent.iter().map(|(s, _)| (*s).clone()).collect();
    expected.sort();
    assert_eq!(absent_students, expected);

    // The school's summary shows both absences within two seconds.
    let reporting = ReportingServiceClient::new(channel(reporting_addr));
    let morning_counts = || {
        let mut reporting = reporting.clone();
        let (school_id, date, principal) = (
            school.school_id.clone(),
            date.clone(),
            school.principal.clone(),
        );
        async move {
            let summary = reporting
                .get_school_daily_summary(with_token(
                    rep::GetSchoolDailySummaryRequest { school_id, date },
                    &principal,
                ))
                .await
                .ok()?
                .into_inner();
            let counts = summary.sessions.first()?.counts?;
            Some((
                counts.present,
                counts.absent_excused,
                counts.absent_unexcused,
            ))
        }
    };
    eventually(
        "the summary shows the roll call",
        Duration::from_secs(2),
        || async { (morning_counts().await? == (1, 1, 1)).then_some(()) },
    )
    .await;
    let visible_after = accepted.elapsed();
    assert!(visible_after <= Duration::from_secs(2), "{visible_after:?}");

    // The teacher corrects one mark: the excused absence was a late arrival.
    attendance
        .correct_mark(with_token(
            att::CorrectMarkRequest {
                request_id: request_id(),
                class_id: school.class_id.clone(),
                date: date.clone(),
                session: att::Session::Morning as i32,
                student_id: school.students[0].clone(),
                status: att::AttendanceStatus::Present as i32,
                reason: "Em đến muộn, đã có mặt".into(),
                note: String::new(),
            },
            &token,
        ))
        .await
        .unwrap();
    eventually(
        "the summary follows the correction",
        Duration::from_secs(5),
        || async { (morning_counts().await? == (2, 0, 1)).then_some(()) },
    )
    .await;

    // The guardian of the first student reads that child's absences, not another's.
    let mut reporting_client = reporting.clone();
    let own = reporting_client
        .get_student_absences(with_token(
            rep::GetStudentAbsencesRequest {
                student_id: school.students[0].clone(),
                from_date: date.clone(),
                to_date: date.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.student_id, school.students[0]);
    assert!(
        own.sessions.is_empty(),
        "corrected to present: {:?}",
        own.sessions
    );
    let other = reporting_client
        .get_student_absences(with_token(
            rep::GetStudentAbsencesRequest {
                student_id: school.students[1].clone(),
                from_date: date.clone(),
                to_date: date.clone(),
            },
            &school.guardian,
        ))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);

    // One trace: the RPC, the relay's publish and the reporting consumer.
    let trace_id = header(roll_call_event, "traceparent")
        .split('-')
        .nth(1)
        .unwrap()
        .to_owned();
    stop.cancel();
    tracing.shutdown().await;
    let mut in_trace = Vec::new();
    while let Ok(span) = spans.try_recv() {
        if hex(&span.trace_id) == trace_id {
            in_trace.push(span);
        }
    }
    let names: Vec<&str> = in_trace.iter().map(|span| span.name.as_str()).collect();
    assert!(
        names.contains(&"lienlac.attendance.v1.AttendanceService/SubmitRollCall"),
        "{names:?}"
    );
    assert!(names.contains(&"outbox.publish"), "{names:?}");
    assert!(
        in_trace.iter().any(|span| span.name == "event.handle"
            && attribute(span, "messaging.consumer.group.name").as_deref()
                == Some("reporting-attendance-g1")),
        "the reporting consumer's span is in the trace: {names:?}"
    );
}
