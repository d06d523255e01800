//! Authorisation as a table: every RPC × every role × the caller's own scope and
//! another scope, against the expected answer. Callers all belong to school A of
//! district 1; "another scope" is school B (same district) for school roles and
//! school C of district 2 for district roles.

use futures::future::BoxFuture;
use lienlac_proto::identity::v1 as pb;
use tonic::Code;

use crate::helpers::*;
use Persona::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Own,
    Other,
}

struct Call<'a> {
    app: &'a TestApp,
    fixture: &'a Fixture,
    token: String,
    persona: Persona,
    scope: Scope,
    /// Staff accounts of schools A, B and C to administer.
    accounts: &'a [String; 3],
}

impl Call<'_> {
    fn school(&self) -> &SchoolFixture {
        match (self.scope, self.persona) {
            (Scope::Own, _) => &self.fixture.a,
            (Scope::Other, DistrictAdmin | DistrictViewer) => &self.fixture.c,
            (Scope::Other, _) => &self.fixture.b,
        }
    }

    fn district(&self) -> &str {
        match self.scope {
            Scope::Own => &self.fixture.district_id,
            Scope::Other => &self.fixture.other_district_id,
        }
    }

    fn account(&self) -> &str {
        match (self.scope, self.persona) {
            (Scope::Own, _) => &self.accounts[0],
            (Scope::Other, DistrictAdmin | DistrictViewer) => &self.accounts[2],
            (Scope::Other, _) => &self.accounts[1],
        }
    }

    fn directory(&self) -> Directory {
        self.app.directory(&self.token)
    }

    fn auth(&self) -> Auth {
        self.app.auth(Some(&self.token))
    }
}

type Outcome = Result<(), tonic::Status>;
type Rpc = for<'a> fn(&'a Call<'a>) -> BoxFuture<'a, Outcome>;

fn done<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Outcome {
    result.map(|_| ())
}

const SCHOOL_ADMINS: &[Persona] = &[Operator, DistrictAdmin, Principal, VicePrincipal, ItOfficer];
const SCHOOL_READERS: &[Persona] = &[
    Operator,
    DistrictAdmin,
    DistrictViewer,
    Principal,
    VicePrincipal,
    ItOfficer,
    Teacher,
    Staff,
    HomeroomTeacher,
];
const DISTRICT_READERS: &[Persona] = &[Operator, DistrictAdmin, DistrictViewer];
const STUDENT_READERS: &[Persona] = &[
    Operator,
    DistrictAdmin,
    DistrictViewer,
    Principal,
    VicePrincipal,
    ItOfficer,
    Teacher,
    Staff,
    HomeroomTeacher,
    Guardian,
];
fn table() -> Vec<(&'static str, &'static [Persona], Rpc)> {
    vec![
        ("CreateDistrict", &[Operator], |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .create_district(pb::CreateDistrictRequest {
                            request_id: rid(),
                            name: "Quận mới".into(),
                            external_ref: format!("Q{}", &rid()[24..]),
                        })
                        .await,
                )
            })
        }),
        ("CreateSchool", &[Operator, DistrictAdmin], |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .create_school(pb::CreateSchoolRequest {
                            request_id: rid(),
                            district_id: c.district().into(),
                            name: "Trường mới".into(),
                            external_ref: format!("T{}", &rid()[24..]),
                        })
                        .await,
                )
            })
        }),
        ("CreateClass", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .create_class(pb::CreateClassRequest {
                            request_id: rid(),
                            school_id: c.school().school_id.clone(),
                            name: format!("L{}", &rid()[30..]),
                            grade: 2,
                            school_year: "2025-2026".into(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("RegisterStudent", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .register_student(pb::RegisterStudentRequest {
                            request_id: rid(),
                            school_id: c.school().school_id.clone(),
                            full_name: "Học Sinh Mới".into(),
                            birth_date: "2019-01-01".into(),
                            gender: pb::Gender::Male as i32,
                            external_ref: format!("HS{}", &rid()[24..]),
                        })
                        .await,
                )
            })
        }),
        ("ImportClassRoster", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .import_class_roster(pb::ImportClassRosterRequest {
                            request_id: rid(),
                            class_id: c.school().class_id.clone(),
                            students: vec![pb::NewStudent {
                                full_name: "Học Sinh Mới".into(),
                                birth_date: "2019-01-01".into(),
                                gender: pb::Gender::Male as i32,
                                external_ref: format!("HS{}", &rid()[24..]),
                            }],
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("RegisterStaff", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .register_staff(pb::RegisterStaffRequest {
                            request_id: rid(),
                            school_id: c.school().school_id.clone(),
                            full_name: "Cán Bộ Mới".into(),
                            phone: phone(),
                            position: String::new(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("RegisterGuardian", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .register_guardian(pb::RegisterGuardianRequest {
                            request_id: rid(),
                            school_id: c.school().school_id.clone(),
                            full_name: "Phụ Huynh Mới".into(),
                            phone: phone(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("EnrollStudent", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .enroll_student(pb::EnrollStudentRequest {
                            request_id: rid(),
                            student_id: c.school().student_id.clone(),
                            class_id: c.school().class_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("TransferStudent", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .transfer_student(pb::TransferStudentRequest {
                            request_id: rid(),
                            student_id: c.school().other_student_id.clone(),
                            to_class_id: c.school().other_class_id.clone(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("WithdrawStudent", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .withdraw_student(pb::WithdrawStudentRequest {
                            request_id: rid(),
                            student_id: c.school().other_student_id.clone(),
                            reason: "kiểm tra quyền".into(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("LinkGuardian", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .link_guardian(pb::LinkGuardianRequest {
                            request_id: rid(),
                            guardian_id: c.school().guardian_id.clone(),
                            student_id: c.school().student_id.clone(),
                            relation: pb::Relation::Father as i32,
                        })
                        .await,
                )
            })
        }),
        ("AssignHomeroomTeacher", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .assign_homeroom_teacher(pb::AssignHomeroomTeacherRequest {
                            request_id: rid(),
                            class_id: c.school().other_class_id.clone(),
                            staff_id: c.school().staff_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("GetDistrict", DISTRICT_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .get_district(pb::GetDistrictRequest {
                            district_id: c.district().into(),
                        })
                        .await,
                )
            })
        }),
        ("ListSchools", DISTRICT_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .list_schools(pb::ListSchoolsRequest {
                            district_id: c.district().into(),
                        })
                        .await,
                )
            })
        }),
        ("GetSchool", SCHOOL_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .get_school(pb::GetSchoolRequest {
                            school_id: c.school().school_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("ListClasses", SCHOOL_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .list_classes(pb::ListClassesRequest {
                            school_id: c.school().school_id.clone(),
                            school_year: String::new(),
                        })
                        .await,
                )
            })
        }),
        ("ListStudents", SCHOOL_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .list_students(pb::ListStudentsRequest {
                            class_id: c.school().class_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("SearchPeople", SCHOOL_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .search_people(pb::SearchPeopleRequest {
                            school_id: c.school().school_id.clone(),
                            query: "nguyen".into(),
                            limit: 5,
                        })
                        .await,
                )
            })
        }),
        ("GetPerson(student)", STUDENT_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .get_person(pb::GetPersonRequest {
                            person_id: c.school().student_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("GetPerson(staff)", SCHOOL_READERS, |c| {
            Box::pin(async move {
                done(
                    c.directory()
                        .get_person(pb::GetPersonRequest {
                            person_id: c.school().staff_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("IssueAccounts", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.auth()
                        .issue_accounts(pb::IssueAccountsRequest {
                            request_id: rid(),
                            school_id: c.school().school_id.clone(),
                            kinds: vec![pb::PersonKind::Guardian as i32],
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("ResetPassword", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.auth()
                        .reset_password(pb::ResetPasswordRequest {
                            request_id: rid(),
                            account_id: c.account().into(),
                        })
                        .await,
                )
            })
        }),
        ("LockAccount", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.auth()
                        .lock_account(pb::LockAccountRequest {
                            request_id: rid(),
                            account_id: c.account().into(),
                            reason: String::new(),
                        })
                        .await,
                )
            })
        }),
        ("UnlockAccount", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.auth()
                        .unlock_account(pb::UnlockAccountRequest {
                            request_id: rid(),
                            account_id: c.account().into(),
                        })
                        .await,
                )
            })
        }),
        ("GrantRole(teacher)", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                done(
                    c.auth()
                        .grant_role(pb::GrantRoleRequest {
                            request_id: rid(),
                            account_id: c.account().into(),
                            role: pb::Role::Teacher as i32,
                            scope_kind: pb::ScopeKind::School as i32,
                            scope_id: c.school().school_id.clone(),
                        })
                        .await,
                )
            })
        }),
        ("RevokeRole(teacher)", SCHOOL_ADMINS, |c| {
            Box::pin(async move {
                // The operator grants it first, so that there is something to revoke.
                let _ = c
                    .app
                    .auth(Some(c.fixture.token(Operator)))
                    .grant_role(pb::GrantRoleRequest {
                        request_id: rid(),
                        account_id: c.account().into(),
                        role: pb::Role::Teacher as i32,
                        scope_kind: pb::ScopeKind::School as i32,
                        scope_id: c.school().school_id.clone(),
                    })
                    .await;
                done(
                    c.auth()
                        .revoke_role(pb::RevokeRoleRequest {
                            request_id: rid(),
                            account_id: c.account().into(),
                            role: pb::Role::Teacher as i32,
                            scope_kind: pb::ScopeKind::School as i32,
                            scope_id: c.school().school_id.clone(),
                        })
                        .await,
                )
            })
        }),
        (
            "GrantRole(district_viewer)",
            &[Operator, DistrictAdmin],
            |c| {
                Box::pin(async move {
                    done(
                        c.auth()
                            .grant_role(pb::GrantRoleRequest {
                                request_id: rid(),
                                account_id: c.account().into(),
                                role: pb::Role::DistrictViewer as i32,
                                scope_kind: pb::ScopeKind::District as i32,
                                scope_id: c.district().into(),
                            })
                            .await,
                    )
                })
            },
        ),
    ]
}

/// Codes that mean the caller got past authorisation (the rest of the rules may
/// still say no, which the other tests cover).
fn authorised(outcome: &Outcome) -> bool {
    match outcome {
        Ok(()) => true,
        Err(status) => matches!(
            status.code(),
            Code::AlreadyExists | Code::FailedPrecondition
        ),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rpc_answers_every_role_in_its_own_and_another_scope_as_expected() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::create(&app).await;
    let admin = fixture.token(Operator).to_owned();
    // A staff account in each school for the account administration rows.
    let mut accounts = Vec::new();
    for school in [&fixture.a, &fixture.b, &fixture.c] {
        let mut directory = app.directory(&admin);
        let staff = register_staff(&mut directory, &school.school_id, "Tài Khoản Thử").await;
        let issued = accounts_for(&app, &admin, &school.school_id, &[staff]).await;
        accounts.push(issued[0].0.clone());
    }
    let accounts: [String; 3] = accounts.try_into().unwrap();

    let mut failures = Vec::new();
    for (rpc, allowed, call) in table() {
        for persona in Persona::ALL {
            for scope in [Scope::Own, Scope::Other] {
                if rpc == "CreateDistrict" && scope == Scope::Other {
                    continue; // a district is created on the platform, which has no "other"
                }
                let c = Call {
                    app: &app,
                    fixture: &fixture,
                    token: fixture.token(persona).to_owned(),
                    persona,
                    scope,
                    accounts: &accounts,
                };
                let outcome = call(&c).await;
                let expect_allowed =
                    allowed.contains(&persona) && (scope == Scope::Own || persona == Operator);
                let ok = if expect_allowed {
                    authorised(&outcome)
                } else {
                    matches!(&outcome, Err(status) if status.code() == Code::PermissionDenied)
                };
                if !ok {
                    failures.push(format!(
                        "{rpc} as {persona:?} in {scope:?} scope: expected {}, got {:?}",
                        if expect_allowed {
                            "authorised"
                        } else {
                            "PERMISSION_DENIED"
                        },
                        outcome.map_err(|s| (s.code(), s.message().to_owned()))
                    ));
                }
            }
        }
        // And nobody without a token.
        let c = Call {
            app: &app,
            fixture: &fixture,
            token: String::new(),
            persona: Operator,
            scope: Scope::Own,
            accounts: &accounts,
        };
        let anonymous = call(&c).await;
        if !matches!(&anonymous, Err(status) if status.code() == Code::Unauthenticated) {
            failures.push(format!(
                "{rpc} without a token: got {:?}",
                anonymous.map_err(|s| s.code())
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
