//! The directory over gRPC: creating the district's structure, people, enrolments,
//! reads, search, and how bad input is answered.

use lienlac_proto::identity::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt as _;
use unicode_normalization::UnicodeNormalization as _;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_school_is_built_and_its_class_lists_students_with_their_guardians() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let school = school_fixture(&mut directory, &district_id, "Trường Tiểu học Tân Thông").await;

    let listed = directory
        .list_students(pb::ListStudentsRequest {
            class_id: school.class_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.students.len(), 1);
    let student = &listed.students[0];
    assert_eq!(student.full_name, "Nguyễn Thị Ánh");
    assert_eq!(student.class_id, school.class_id);
    assert_eq!(student.guardianships.len(), 1);
    assert_eq!(student.guardianships[0].guardian_id, school.guardian_id);
    assert_eq!(listed.guardians.len(), 1);
    assert!(
        listed.guardians[0].phone.starts_with("+849"),
        "{}",
        listed.guardians[0].phone
    );

    let classes = directory
        .list_classes(pb::ListClassesRequest {
            school_id: school.school_id.clone(),
            school_year: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .classes;
    let names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["1A1", "1A2"]);
    let schools = directory
        .list_schools(pb::ListSchoolsRequest {
            district_id: district_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .schools;
    assert_eq!(schools.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_typed_in_nfd_are_stored_nfc_and_found_without_diacritics() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let school_id = create_school(&mut directory, &district_id, "Trường Tiểu học Tân Thông").await;
    let decomposed: String = "Nguyễn Thị Ánh".nfd().collect();
    assert_ne!(decomposed, "Nguyễn Thị Ánh");
    let student_id = register_student(&mut directory, &school_id, &decomposed).await;
    register_student(&mut directory, &school_id, "Trần Văn Bình").await;

    let person = directory
        .get_person(pb::GetPersonRequest {
            person_id: student_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(person.full_name, "Nguyễn Thị Ánh");
    for query in ["nguyen thi anh", "NGUYỄN", "thi anh"] {
        let found = directory
            .search_people(pb::SearchPeopleRequest {
                school_id: school_id.clone(),
                query: query.to_owned(),
                limit: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .people;
        let ids: Vec<&str> = found.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, vec![student_id.as_str()], "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_mobile_number_in_its_usual_forms_is_one_guardian() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let school_id = create_school(&mut directory, &district_id, "Trường Tiểu học Tân Thông").await;
    let first = directory
        .register_guardian(pb::RegisterGuardianRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            full_name: "Phạm Văn Em".to_owned(),
            phone: "+84 912 345 678".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.phone, "+84912345678");
    for form in ["0912345678", "84912345678"] {
        let again = directory
            .register_guardian(pb::RegisterGuardianRequest {
                request_id: rid(),
                school_id: school_id.clone(),
                full_name: "Phạm Văn Em".to_owned(),
                phone: form.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists, "{form}");
    }
    let bad = directory
        .register_guardian(pb::RegisterGuardianRequest {
            request_id: rid(),
            school_id,
            full_name: "Phạm Văn Em".to_owned(),
            phone: "028 3829 1234".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_fields_are_listed_with_a_vietnamese_message() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let status = app
        .directory(&admin)
        .create_class(pb::CreateClassRequest {
            request_id: "not-a-uuid".to_owned(),
            school_id: String::new(),
            name: "1A1".to_owned(),
            grade: 13,
            school_year: "2025-2027".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        vec!["request_id", "school_id", "grade", "school_year"]
    );
    let details = status.get_error_details();
    let localized = details.localized_message().unwrap();
    assert_eq!(localized.locale, "vi-VN");
    assert!(
        localized.message.contains("grade phải từ 1 đến 12"),
        "{}",
        localized.message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicates_unknown_ids_and_cross_school_enrolments_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let a = school_fixture(&mut directory, &district_id, "Trường A").await;
    let b = school_fixture(&mut directory, &district_id, "Trường B").await;

    let duplicate = directory
        .create_school(pb::CreateSchoolRequest {
            request_id: rid(),
            district_id: district_id.clone(),
            name: "Trường trùng mã".to_owned(),
            external_ref: "TANTHONG".to_owned(),
        })
        .await;
    assert!(duplicate.is_ok());
    let again = directory
        .create_school(pb::CreateSchoolRequest {
            request_id: rid(),
            district_id: district_id.clone(),
            name: "Trường trùng mã 2".to_owned(),
            external_ref: "TANTHONG".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);

    let cross = directory
        .enroll_student(pb::EnrollStudentRequest {
            request_id: rid(),
            student_id: a.other_student_id.clone(),
            class_id: b.class_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(cross.code(), Code::FailedPrecondition);

    let unknown = directory
        .get_school(pb::GetSchoolRequest { school_id: rid() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(unknown.message(), "school not found");

    let twice = directory
        .enroll_student(pb::EnrollStudentRequest {
            request_id: rid(),
            student_id: a.student_id.clone(),
            class_id: a.other_class_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        twice.code(),
        Code::FailedPrecondition,
        "{}",
        twice.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transfers_and_withdrawals_move_the_student_between_class_lists() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let a = school_fixture(&mut directory, &district_id, "Trường A").await;
    let moved = directory
        .transfer_student(pb::TransferStudentRequest {
            request_id: rid(),
            student_id: a.student_id.clone(),
            to_class_id: a.other_class_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.class_id, a.other_class_id);
    assert_eq!(class_students(&mut directory, &a.class_id).await.len(), 0);
    assert_eq!(
        class_students(&mut directory, &a.other_class_id)
            .await
            .len(),
        2
    );
    let withdrawn = directory
        .withdraw_student(pb::WithdrawStudentRequest {
            request_id: rid(),
            student_id: a.student_id.clone(),
            reason: "chuyển trường".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!withdrawn.active);
    assert_eq!(
        class_students(&mut directory, &a.other_class_id)
            .await
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_request_gets_the_first_answer() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let request = pb::CreateDistrictRequest {
        request_id: rid(),
        name: "Huyện Nhà Bè".to_owned(),
        external_ref: "786".to_owned(),
    };
    let first = directory
        .create_district(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retry = directory
        .create_district(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retry);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM districts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_id_belongs_to_its_caller_and_stands_for_one_request() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let request = pb::CreateDistrictRequest {
        request_id: rid(),
        name: "Huyện Cần Giờ".to_owned(),
        external_ref: "787".to_owned(),
    };
    app.directory(fixture.token(Persona::Operator))
        .create_district(request.clone())
        .await
        .unwrap();
    let replayed = app
        .directory(fixture.token(Persona::Teacher))
        .create_district(request.clone())
        .await
        .unwrap_err();
    assert_eq!(
        replayed.code(),
        Code::PermissionDenied,
        "another caller's replay is a request of its own, authorised as such"
    );
    let changed = app
        .directory(fixture.token(Persona::Operator))
        .create_district(pb::CreateDistrictRequest {
            name: "Huyện Củ Chi".to_owned(),
            ..request
        })
        .await
        .unwrap_err();
    assert_eq!(changed.code(), Code::InvalidArgument);
    assert!(
        changed.message().contains("different request"),
        "{}",
        changed.message()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let status = app
        .anonymous_directory()
        .list_schools(pb::ListSchoolsRequest { district_id: rid() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

fn roster_student(name: &str, code: &str) -> pb::NewStudent {
    pb::NewStudent {
        full_name: name.to_owned(),
        birth_date: "2019-03-02".to_owned(),
        gender: pb::Gender::Male as i32,
        external_ref: code.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_roster_is_imported_whole_or_not_at_all() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
    let school_id = create_school(&mut directory, &district_id, "Trường A").await;
    let class_id = create_class(&mut directory, &school_id, "1A1").await;
    let suffix = &rid()[24..];
    let code = |prefix: &str| format!("{prefix}{suffix}");
    let import = pb::ImportClassRosterRequest {
        request_id: rid(),
        class_id: class_id.clone(),
        students: vec![
            roster_student("Trần Văn Bình", &code("A")),
            roster_student("Lê Thị Cúc", &code("B")),
        ],
        guardians: vec![pb::RosterGuardian {
            full_name: "Trần Văn Hùng".into(),
            phone: "0908123456".into(),
            external_ref: code("PH"),
        }],
        // One father of both children.
        links: ["A", "B"]
            .map(|student| pb::RosterLink {
                student_ref: code(student),
                guardian_ref: code("PH"),
                relation: pb::Relation::Father as i32,
                ..Default::default()
            })
            .to_vec(),
    };
    let imported = directory
        .import_class_roster(import.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.students.len(), 2);
    assert_eq!(imported.students[1].full_name, "Lê Thị Cúc");
    assert_eq!(imported.students[1].school_id, school_id);
    assert_eq!(imported.guardians.len(), 1);
    assert_eq!(imported.guardians[0].external_ref, code("PH"));
    let listed = class_students(&mut directory, &class_id).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|student| student.class_id == class_id));
    let guardian = directory
        .get_person(pb::GetPersonRequest {
            person_id: imported.guardians[0].id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(guardian.full_name, "Trần Văn Hùng");
    assert_eq!(guardian.phone, "+84908123456");
    let mut children: Vec<String> = guardian
        .guardianships
        .iter()
        .map(|g| g.student_id.clone())
        .collect();
    children.sort();
    let mut expected: Vec<String> = imported.students.iter().map(|s| s.id.clone()).collect();
    expected.sort();
    assert_eq!(children, expected);
    // One event for the whole roster, its names and phone number sealed.
    let events = app.stored_events().await;
    let rosters: Vec<&String> = events
        .iter()
        .filter(|(event, _)| event == "ClassRosterImported")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(rosters.len(), 1, "{events:?}");
    assert!(!rosters[0].contains("Hùng") && !rosters[0].contains("908123456"));
    for kind in [
        "StudentRegistered",
        "StudentEnrolled",
        "GuardianRegistered",
        "GuardianLinked",
    ] {
        assert!(events.iter().all(|(event, _)| event != kind), "{kind}");
    }

    // The same request again gets the first answer and changes nothing.
    let again = directory
        .import_class_roster(import)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, imported);

    // One student, or one guardian's phone number, already registered: none of
    // the import is kept, and the answer names what is taken.
    let clash = directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: class_id.clone(),
            students: vec![
                roster_student("Phạm Văn Dũng", &code("C")),
                roster_student("Trần Văn Bình", &code("A")),
            ],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists, "{}", clash.message());
    assert!(clash.message().contains(&code("A")), "{}", clash.message());
    let clash = directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: class_id.clone(),
            students: vec![roster_student("Phạm Văn Dũng", &code("C"))],
            guardians: vec![pb::RosterGuardian {
                full_name: "Phạm Văn Giang".into(),
                phone: "0908123456".into(),
                external_ref: code("PG"),
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists, "{}", clash.message());
    assert_eq!(class_students(&mut directory, &class_id).await.len(), 2);

    let bad = directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: class_id.clone(),
            students: vec![
                roster_student("Phạm Văn Dũng", &code("C")),
                pb::NewStudent {
                    birth_date: "2019-02-30".to_owned(),
                    ..roster_student("Võ Thị Em", &code("D"))
                },
            ],
            guardians: vec![pb::RosterGuardian {
                full_name: "Võ Văn Phong".into(),
                phone: "12".into(),
                external_ref: code("PV"),
            }],
            links: vec![
                pb::RosterLink {
                    student_ref: code("Z"),
                    guardian_ref: code("PV"),
                    relation: pb::Relation::Father as i32,
                    ..Default::default()
                },
                pb::RosterLink {
                    student_ref: code("C"),
                    guardian_ref: code("PV"),
                    guardian_id: rid(),
                    relation: pb::Relation::Father as i32,
                },
            ],
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&bad),
        vec![
            "students[1].birth_date",
            "guardians[0].phone",
            "links[0].student_ref",
            "links[1].guardian_ref"
        ]
    );
    let unknown_guardian = directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: class_id.clone(),
            students: vec![roster_student("Phạm Văn Dũng", &code("C"))],
            links: vec![pb::RosterLink {
                student_ref: code("C"),
                guardian_id: rid(),
                relation: pb::Relation::Mother as i32,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_guardian.code(), Code::NotFound);
    let empty = directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: class_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    let unknown = directory
        .import_class_roster(pb::ImportClassRosterRequest {
            request_id: rid(),
            class_id: rid(),
            students: vec![roster_student("Phạm Văn Dũng", &code("C"))],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
