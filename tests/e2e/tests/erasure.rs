//! Erasure reaches everything: a withdrawn student and their guardian are
//! erased by the district, and afterwards no table of any service's schema (the
//! event stores included) and no JetStream message holds their name, phone number
//! or birth date, while the school's figures for the day still add up.

#![allow(clippy::unwrap_used)] // a test fails by panicking

use std::time::Duration;

use kernel::config::{ServiceId, stream_name_in};
use kernel::testing::{TestWorld, channel, eventually, request_id, with_token};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use lienlac_proto::reporting::v1 as rep;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use lienlac_test_stack::{SchoolDay, start_school_day};
use lienlac_test_support::today;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use tonic::Code;

const STUDENT_NAME: &str = "Võ Ngọc Khánh Linh";
const BIRTH_DATE: &str = "2018-07-23";
const GUARDIAN_NAME: &str = "Huỳnh Văn Lộc";

#[tokio::test(flavor = "multi_thread")]
async fn an_erased_student_and_guardian_are_nowhere_and_the_figures_still_add_up() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let SchoolDay {
        identity,
        attendance,
        reporting,
        school,
        ..
    } = start_school_day(&world, &stop).await;
    let mut directory = DirectoryServiceClient::new(channel(identity));
    let district = school.district_admin.clone();
    let n = u32::from_str_radix(&request_id()[30..], 16).unwrap() % 1_000_000;
    let phone = format!("0912{n:06}");

    // A student of 1A1 with a guardian, absent this morning.
    let student = directory
        .register_student(with_token(
            id::RegisterStudentRequest {
                request_id: request_id(),
                school_id: school.school_id.clone(),
                full_name: STUDENT_NAME.into(),
                birth_date: BIRTH_DATE.into(),
                gender: id::Gender::Female as i32,
                external_ref: format!("HS{}", &request_id()[24..]),
            },
            &district,
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    directory
        .enroll_student(with_token(
            id::EnrollStudentRequest {
                request_id: request_id(),
                student_id: student.clone(),
                class_id: school.class_id.clone(),
            },
            &district,
        ))
        .await
        .unwrap();
    let guardian = directory
        .register_guardian(with_token(
            id::RegisterGuardianRequest {
                request_id: request_id(),
                school_id: school.school_id.clone(),
                full_name: GUARDIAN_NAME.into(),
                phone: phone.clone(),
                ..Default::default()
            },
            &district,
        ))
        .await
        .unwrap()
        .into_inner();
    directory
        .link_guardian(with_token(
            id::LinkGuardianRequest {
                request_id: request_id(),
                guardian_id: guardian.id.clone(),
                student_id: student.clone(),
                relation: id::Relation::Father as i32,
            },
            &district,
        ))
        .await
        .unwrap();
    let (_, guardian_username) = school
        .identity
        .account(&school.school_id, &guardian.id)
        .await;

    // Submitted once attendance has projected the new student into the class.
    let roll_call = att::SubmitRollCallRequest {
        request_id: String::new(),
        class_id: school.class_id.clone(),
        date: today(),
        session: att::Session::Morning as i32,
        marks: vec![att::Mark {
            student_id: student.clone(),
            status: att::AttendanceStatus::AbsentUnexcused as i32,
            ..Default::default()
        }],
        taken_at: String::new(),
    };
    eventually(
        "the roll call with the new student",
        Duration::from_secs(10),
        || {
            let mut client = AttendanceServiceClient::new(channel(attendance));
            let request = with_token(
                att::SubmitRollCallRequest {
                    request_id: request_id(),
                    ..roll_call.clone()
                },
                &school.homeroom,
            );
            async move { client.submit_roll_call(request).await.ok() }
        },
    )
    .await;
    let mut reports = ReportingServiceClient::new(channel(reporting));
    let summary = || {
        let mut reports = reports.clone();
        let token = school.principal.clone();
        let school_id = school.school_id.clone();
        async move {
            reports
                .get_school_daily_summary(with_token(
                    rep::GetSchoolDailySummaryRequest {
                        school_id,
                        date: today(),
                    },
                    &token,
                ))
                .await
                .ok()
                .map(|summary| summary.into_inner())
        }
    };
    let before = eventually(
        "the absence in the school's figures",
        Duration::from_secs(10),
        || {
            let summary = summary();
            async move {
                summary
                    .await
                    .and_then(|s| morning_counts(&s))
                    .filter(|counts| counts.absent_unexcused == 1)
            }
        },
    )
    .await;

    // Nobody is erased while they are still at school, and only by the district.
    let erase = |person: &str, token: &str| {
        with_token(
            id::ErasePersonalDataRequest {
                request_id: request_id(),
                person_id: person.into(),
            },
            token,
        )
    };
    let refused = directory
        .erase_personal_data(erase(&student, &school.district_admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    directory
        .withdraw_student(with_token(
            id::WithdrawStudentRequest {
                request_id: request_id(),
                student_id: student.clone(),
                reason: "Chuyển trường về Đà Nẵng".into(),
                ..Default::default()
            },
            &district,
        ))
        .await
        .unwrap();
    let refused = directory
        .erase_personal_data(erase(&student, &school.principal))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let refused = directory
        .erase_personal_data(erase(&student, &school.other_district_admin))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // Before: the scan finds each of them where identity keeps them.
    let local_phone = guardian.phone.replacen("+84", "0", 1);
    let needles = [
        STUDENT_NAME,
        GUARDIAN_NAME,
        BIRTH_DATE,
        guardian.phone.as_str(),
        local_phone.as_str(),
        guardian_username.as_str(),
    ];
    let mut conn = world.admin().await;
    let held = tables_holding(&mut conn, &world.namespace, &needles).await;
    for needle in needles {
        assert!(
            held.iter().any(|hit| hit.ends_with(&format!(": {needle}"))),
            "{needle} not found before the erasure: {held:?}"
        );
    }

    for person in [&student, &guardian.id] {
        directory
            .erase_personal_data(erase(person, &school.district_admin))
            .await
            .unwrap();
    }
    let again = directory
        .erase_personal_data(erase(&guardian.id, &school.district_admin))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // Nobody brings the erased back into the directory or their accounts.
    let enrolled = directory
        .enroll_student(with_token(
            id::EnrollStudentRequest {
                request_id: request_id(),
                student_id: student.clone(),
                class_id: school.class_id.clone(),
            },
            &district,
        ))
        .await
        .unwrap_err();
    assert_eq!(enrolled.code(), Code::FailedPrecondition, "{enrolled:?}");
    let linked = directory
        .link_guardian(with_token(
            id::LinkGuardianRequest {
                request_id: request_id(),
                guardian_id: guardian.id.clone(),
                student_id: school.students[1].clone(),
                relation: id::Relation::Father as i32,
            },
            &district,
        ))
        .await
        .unwrap_err();
    assert_eq!(linked.code(), Code::FailedPrecondition, "{linked:?}");

    // The erased are ids: the directory shows no name, the guardian cannot sign in.
    let shown = directory
        .get_person(with_token(
            id::GetPersonRequest {
                person_id: student.clone(),
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(shown.erased && shown.full_name.is_empty() && shown.birth_date.is_empty());
    let sign_in =
        lienlac_proto::identity::v1::auth_service_client::AuthServiceClient::new(channel(identity))
            .login(id::LoginRequest {
                username: guardian_username.clone(),
                password: lienlac_test_support::PASSWORD.into(),
            })
            .await;
    assert!(sign_in.is_err(), "an erased guardian's account is closed");

    // Every event is published before the search.
    let jetstream = world.jetstream().await;
    for service in [ServiceId::IDENTITY, ServiceId::ATTENDANCE] {
        let schema = world.config(service).schema;
        let stored: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".events WHERE published_type IS NOT NULL"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        let name = stream_name_in(&world.namespace, service);
        eventually("every event published", Duration::from_secs(20), || {
            let jetstream = jetstream.clone();
            let name = name.clone();
            async move {
                let info = jetstream
                    .get_stream(&name)
                    .await
                    .ok()?
                    .get_info()
                    .await
                    .ok()?;
                (info.state.messages as i64 >= stored).then_some(())
            }
        })
        .await;
    }

    let hits = tables_holding(&mut conn, &world.namespace, &needles).await;
    assert!(hits.is_empty(), "still held in {hits:?}");
    for service in [ServiceId::IDENTITY, ServiceId::ATTENDANCE] {
        let name = stream_name_in(&world.namespace, service);
        let stream = jetstream.get_stream(&name).await.unwrap();
        let last = stream.get_info().await.unwrap().state.last_sequence;
        for sequence in 1..=last {
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            let text = String::from_utf8_lossy(&message.payload);
            for needle in needles {
                assert!(
                    !text.contains(needle),
                    "{name} #{sequence} ({}) holds {needle}",
                    message.subject
                );
            }
        }
    }

    // The figures still count the absence, of a student who is now an id.
    let after = summary().await.and_then(|s| morning_counts(&s));
    assert_eq!(after, Some(before));
    let class = reports
        .get_class_attendance(with_token(
            rep::GetClassAttendanceRequest {
                class_id: school.class_id.clone(),
                from_date: today(),
                to_date: today(),
            },
            &school.principal,
        ))
        .await
        .unwrap()
        .into_inner();
    let mark = class.roll_calls[0]
        .marks
        .iter()
        .find(|mark| mark.student_id == student)
        .expect("the erased student's mark stays");
    assert_eq!(mark.status, att::AttendanceStatus::AbsentUnexcused as i32);
    assert!(mark.full_name.is_empty());
    stop.cancel();
}

fn morning_counts(summary: &rep::SchoolDailySummary) -> Option<rep::StatusCounts> {
    summary.sessions.first().and_then(|session| session.counts)
}

/// `schema.table` of every table in the world's schemas holding one of `needles`
/// in a text, JSON or binary column.
async fn tables_holding(conn: &mut PgConnection, namespace: &str, needles: &[&str]) -> Vec<String> {
    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema LIKE $1 AND t.table_type = 'BASE TABLE' \
           AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'date')",
    )
    .bind(format!("{namespace}\\_%"))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(columns.len() > 20, "the scan found the schemas' columns");
    let mut hits = Vec::new();
    for (schema, table, column, data_type) in columns {
        let holds = match data_type.as_str() {
            "bytea" => format!("position(convert_to($1, 'UTF8') in \"{column}\") > 0"),
            _ => format!("strpos(\"{column}\"::text, $1) > 0"),
        };
        for needle in needles {
            let held: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM \"{schema}\".\"{table}\" WHERE {holds})"
            )))
            .bind(needle)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
            if held {
                hits.push(format!("{schema}.{table}.{column}: {needle}"));
            }
        }
    }
    hits
}
