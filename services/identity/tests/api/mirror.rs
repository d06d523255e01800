//! What a mirror of the city database needs of the directory: the sync service's
//! token writes and exports it (and nothing else), every entity carries the
//! source's code, people are corrected, staff of the district office belong to
//! no school, and a move reported late takes effect on the day it happened.

use identity::config::ServiceSecrets;
use kernel::testing::TestWorld;
use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;

const SECRET: &str = "sync-secret-of-thirty-two-characters";

async fn spawn_with_sync() -> TestApp {
    TestApp::spawn_in(TestWorld::new(), |settings| {
        settings.service_secrets = ServiceSecrets::parse(
            "IDENTITY_SERVICE_SECRETS",
            &format!("sync={SECRET},messaging={SECRET}"),
        )
        .unwrap();
    })
    .await
}

async fn service_token(app: &TestApp, service: &str) -> String {
    app.auth(None)
        .issue_service_token(pb::IssueServiceTokenRequest {
            service: service.to_owned(),
            secret: SECRET.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mirror_writes_and_exports_the_directory_with_the_sources_codes_and_nothing_else() {
    let app = spawn_with_sync().await;
    let mirror_token = service_token(&app, "sync").await;
    let mut mirror = app.directory(&mirror_token);
    let district = mirror
        .create_district(pb::CreateDistrictRequest {
            request_id: rid(),
            name: "Phường Tân Định".to_owned(),
            external_ref: format!("P{}", &rid()[28..]),
        })
        .await
        .unwrap()
        .into_inner();
    let school_id = create_school(&mut mirror, &district.id, "Trường Tiểu học Trần Khánh Dư").await;
    let class = mirror
        .create_class(pb::CreateClassRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            name: "1A1".to_owned(),
            grade: 1,
            school_year: "2025-2026".to_owned(),
            external_ref: "L-1A1".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(class.external_ref, "L-1A1");
    let twin = mirror
        .create_class(pb::CreateClassRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            name: "1A9".to_owned(),
            grade: 1,
            school_year: "2025-2026".to_owned(),
            external_ref: "L-1A1".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(twin.code(), Code::AlreadyExists, "{}", twin.message());
    assert!(twin.message().contains("L-1A1"), "{}", twin.message());

    let teacher = mirror
        .register_staff(pb::RegisterStaffRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            full_name: "Lê Thị Dung".to_owned(),
            phone: phone(),
            position: "Giáo viên".to_owned(),
            external_ref: "GV-001".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let officer = mirror
        .register_staff(pb::RegisterStaffRequest {
            request_id: rid(),
            district_id: district.id.clone(),
            full_name: "Phạm Văn Hòa".to_owned(),
            phone: phone(),
            position: "Chuyên viên".to_owned(),
            external_ref: "CV-001".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        officer.school_id, "",
        "of the district office, of no school"
    );
    let guardian = mirror
        .register_guardian(pb::RegisterGuardianRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            full_name: "Võ Văn Tâm".to_owned(),
            phone: phone(),
            external_ref: "PH-001".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let student = register_student(&mut mirror, &school_id, "Võ Gia Hân").await;
    enroll(&mut mirror, &student, &class.id).await;
    link(&mut mirror, &guardian.id, &student).await;

    let export = mirror
        .export_school(pb::ExportSchoolRequest {
            school_id: school_id.clone(),
            school_year: "2025-2026".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(export.classes.len(), 1);
    assert_eq!(export.classes[0].external_ref, "L-1A1");
    let staff_refs: Vec<&str> = export
        .staff
        .iter()
        .map(|s| s.external_ref.as_str())
        .collect();
    assert_eq!(
        staff_refs,
        ["GV-001"],
        "the district's officer is no school's staff"
    );
    assert_eq!(export.students.len(), 1);
    assert_eq!(export.students[0].class_id, class.id);
    assert_eq!(export.students[0].guardianships.len(), 1);
    assert_eq!(export.guardians[0].external_ref, "PH-001");
    assert!(
        export.guardians[0].phone.starts_with("+84"),
        "the mirror reads details"
    );
    let district_export = mirror
        .export_district(pb::ExportDistrictRequest {
            district_id: district.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(district_export.schools.len(), 1);
    let officers: Vec<&str> = district_export
        .staff
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(officers, [officer.id.as_str()]);

    // The mirror keeps the directory, not accounts; messaging's token writes nothing.
    let refused = app
        .auth(Some(&mirror_token))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            person_ids: vec![teacher.id.clone()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "{}",
        refused.message()
    );
    let messaging_token = service_token(&app, "messaging").await;
    let refused = app
        .directory(&messaging_token)
        .create_class(pb::CreateClassRequest {
            request_id: rid(),
            school_id: school_id.clone(),
            name: "1A2".to_owned(),
            grade: 1,
            school_year: "2025-2026".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = app
        .directory(&messaging_token)
        .export_school(pb::ExportSchoolRequest {
            school_id,
            school_year: "2025-2026".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_is_corrected_field_by_field_and_a_correction_that_changes_nothing_records_nothing()
 {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Phường Bến Thành").await;
    let school = school_fixture(&mut directory, &district_id, "Trường A").await;
    let update =
        |person_id: &str, full_name: &str, phone: &str, birth_date: &str| pb::UpdatePersonRequest {
            request_id: rid(),
            person_id: person_id.to_owned(),
            full_name: full_name.to_owned(),
            phone: phone.to_owned(),
            birth_date: birth_date.to_owned(),
            position: String::new(),
        };
    let corrected = directory
        .update_person(update(
            &school.student_id,
            "Nguyễn Thị Ánh Dương",
            "",
            "2019-06-02",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.full_name, "Nguyễn Thị Ánh Dương");
    assert_eq!(corrected.birth_date, "2019-06-02");
    let listed = class_students(&mut directory, &school.class_id).await;
    assert_eq!(listed[0].full_name, "Nguyễn Thị Ánh Dương");
    let found = directory
        .search_people(pb::SearchPeopleRequest {
            school_id: school.school_id.clone(),
            query: "anh duong".to_owned(),
            limit: 5,
        })
        .await
        .unwrap()
        .into_inner()
        .people;
    assert_eq!(found.len(), 1, "the folded name follows the correction");

    let new_phone = phone();
    let guardian = directory
        .update_person(update(&school.guardian_id, "", &new_phone, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(guardian.phone, format!("+84{}", &new_phone[1..]));
    let refused = directory
        .update_person(update(&school.student_id, "", &phone(), ""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("no phone"),
        "{}",
        refused.message()
    );
    let empty = directory
        .update_person(update(&school.student_id, "", "", ""))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);

    let before = app.stored_events().await.len();
    directory
        .update_person(update(&school.guardian_id, "", &new_phone, ""))
        .await
        .unwrap();
    assert_eq!(app.stored_events().await.len(), before, "nothing changed");
    let updates: Vec<String> = app
        .stored_events()
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "PersonUpdated")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(updates.len(), 2);
    for data in &updates {
        assert!(
            !data.contains("Dương") && !data.contains(&new_phone[1..]),
            "{data}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_reported_late_takes_effect_on_its_day_within_the_enrolment_and_never_ahead() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Phường Sài Gòn").await;
    let school = school_fixture(&mut directory, &district_id, "Trường B").await;
    let transfer = |to: &str, on: &str| pb::TransferStudentRequest {
        request_id: rid(),
        student_id: school.student_id.clone(),
        to_class_id: to.to_owned(),
        effective_date: on.to_owned(),
    };
    let tomorrow = (school::dates::local_today() + time::Duration::days(1)).to_string();
    let ahead = directory
        .transfer_student(transfer(&school.other_class_id, &tomorrow))
        .await
        .unwrap_err();
    assert_eq!(ahead.code(), Code::FailedPrecondition);
    assert!(
        ahead.message().contains("after today"),
        "{}",
        ahead.message()
    );
    let before_the_year = directory
        .transfer_student(transfer(&school.other_class_id, "2025-07-31"))
        .await
        .unwrap_err();
    assert_eq!(before_the_year.code(), Code::FailedPrecondition);

    directory
        .transfer_student(transfer(&school.other_class_id, "2025-11-03"))
        .await
        .unwrap();
    let back_before = directory
        .transfer_student(transfer(&school.class_id, "2025-10-20"))
        .await
        .unwrap_err();
    assert!(
        back_before
            .message()
            .contains("joined their current class (2025-11-03)"),
        "{}",
        back_before.message()
    );
    directory
        .withdraw_student(pb::WithdrawStudentRequest {
            request_id: rid(),
            student_id: school.student_id.clone(),
            reason: "Chuyển trường".to_owned(),
            effective_date: "2025-12-01".to_owned(),
        })
        .await
        .unwrap();
    let dated: Vec<String> = app
        .stored_events()
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "StudentTransferred" || kind == "StudentWithdrawn")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(dated.len(), 2);
    assert!(
        dated[0].contains("\"effective_date\": \"2025-11-03\""),
        "{}",
        dated[0]
    );
    assert!(
        dated[1].contains("\"effective_date\": \"2025-12-01\""),
        "{}",
        dated[1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unlinked_guardian_loses_the_student_and_their_sign_ins_lose_the_role_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Phường Đa Kao").await;
    let school = school_fixture(&mut directory, &district_id, "Trường C").await;
    let accounts = accounts_for(
        &app,
        &admin,
        &school.school_id,
        std::slice::from_ref(&school.guardian_id),
    )
    .await;
    let (account, guardian_token) = accounts[0].clone();
    assert!(
        app.directory(&guardian_token)
            .get_person(pb::GetPersonRequest {
                person_id: school.student_id.clone(),
            })
            .await
            .is_ok()
    );

    let unlink = || pb::UnlinkGuardianRequest {
        request_id: rid(),
        guardian_id: school.guardian_id.clone(),
        student_id: school.student_id.clone(),
    };
    directory.unlink_guardian(unlink()).await.unwrap();
    let student = directory
        .get_person(pb::GetPersonRequest {
            person_id: school.student_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(student.guardianships.is_empty());
    let again = directory.unlink_guardian(unlink()).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    let revoked: Vec<String> = app
        .stored_events()
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "RoleRevoked")
        .map(|(_, data)| data)
        .collect();
    assert_eq!(revoked.len(), 1);
    assert!(
        revoked[0].contains(&account) && revoked[0].contains(&school.student_id),
        "{}",
        revoked[0]
    );
    // A new sign-in no longer holds the student.
    let username = username_of(&app, &account).await;
    let fresh = app.login(&username, PASSWORD).await.unwrap().access_token;
    let refused = app
        .directory(&fresh)
        .get_person(pb::GetPersonRequest {
            person_id: school.student_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_district_offices_staff_get_their_accounts_from_the_district_not_from_a_school() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut directory = app.directory(&admin);
    let district_id = create_district(&mut directory, "Xã Tân Thông Hội").await;
    let school = school_fixture(&mut directory, &district_id, "Trường B").await;
    let officer = directory
        .register_staff(pb::RegisterStaffRequest {
            request_id: rid(),
            district_id: district_id.clone(),
            full_name: "Ngô Bảo Anh".to_owned(),
            phone: phone(),
            position: "Chuyên viên".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let office = |person_ids: Vec<String>, kinds: Vec<i32>| pb::IssueAccountsRequest {
        request_id: rid(),
        district_id: district_id.clone(),
        person_ids,
        kinds,
        ..Default::default()
    };

    // A school's principal is no one of the district office's.
    let principal = accounts_for(
        &app,
        &admin,
        &school.school_id,
        std::slice::from_ref(&school.staff_id),
    )
    .await
    .remove(0);
    grant(
        &app,
        &admin,
        &principal.0,
        pb::Role::Principal,
        pb::ScopeKind::School,
        &school.school_id,
    )
    .await;
    let principal_token = app
        .login(&username_of(&app, &principal.0).await, PASSWORD)
        .await
        .unwrap()
        .access_token;
    let refused = app
        .auth(Some(&principal_token))
        .issue_accounts(office(vec![officer.id.clone()], Vec::new()))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "{}",
        refused.message()
    );

    // A school's staff member is not of the office; a school and a district at once
    // is no place.
    let refused = app
        .auth(Some(&admin))
        .issue_accounts(office(vec![school.staff_id.clone()], Vec::new()))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("district's office"),
        "{}",
        refused.message()
    );
    let mut both = office(vec![officer.id.clone()], Vec::new());
    both.school_id = school.school_id.clone();
    let refused = app
        .auth(Some(&admin))
        .issue_accounts(both)
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["school_id"]);

    // Every staff member of the office, by kind: the officer only.
    let issued = app
        .auth(Some(&admin))
        .issue_accounts(office(Vec::new(), vec![pb::PersonKind::Staff as i32]))
        .await
        .unwrap()
        .into_inner();
    let people: Vec<&str> = issued
        .accounts
        .iter()
        .map(|a| a.person_id.as_str())
        .collect();
    assert_eq!(people, [officer.id.as_str()]);
    let account = &issued.accounts[0];
    app.auth(None)
        .activate_account(pb::ActivateAccountRequest {
            username: account.username.clone(),
            activation_code: account.activation_code.clone(),
            new_password: PASSWORD.to_owned(),
        })
        .await
        .unwrap();
    grant(
        &app,
        &admin,
        &account.account_id,
        pb::Role::DistrictAdmin,
        pb::ScopeKind::District,
        &district_id,
    )
    .await;
    let signed_in = app.login(&account.username, PASSWORD).await.unwrap();
    let who = app
        .auth(Some(&signed_in.access_token))
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who.person.as_ref().unwrap().id, officer.id);
    assert!(
        who.roles
            .iter()
            .any(|r| r.role == pb::Role::DistrictAdmin as i32 && r.scope_id == district_id),
        "{who:?}"
    );
}
