//! What the services' API tests share: an identity service in a test world, and a
//! district with two schools, classes, students, staff, a guardian and their
//! accounts, created through identity's public API.

#![allow(clippy::unwrap_used)] // test set-up fails the test by panicking

use std::net::SocketAddr;
use std::time::Duration;

use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually};
pub use kernel::testing::{request_id as rid, with_token};
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "password-123";

/// The secret messaging proves itself to identity with in tests.
pub const MESSAGING_SECRET: &str = "messaging-test-secret-of-32-characters";

/// The secret the sync service (the mirror) proves itself to identity with in tests.
pub const SYNC_SECRET: &str = "sync-test-secret-of-thirty-two-chars";

/// Starts identity in `world` (fast password hashing, its own signing key) until
/// `stop`; returns its gRPC address.
pub async fn start_identity(world: &TestWorld, stop: &CancellationToken) -> SocketAddr {
    let mut settings = identity::Settings::defaults(world.config(ServiceId::IDENTITY));
    settings.service_secrets = identity::config::ServiceSecrets::parse(
        "IDENTITY_SERVICE_SECRETS",
        &format!("messaging={MESSAGING_SECRET},sync={SYNC_SECRET}"),
    )
    .unwrap();
    settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    settings.argon2.memory_kib = 1024;
    settings.argon2.iterations = 1;
    settings.keep_keys_in(&std::env::temp_dir().join(format!("lienlac-{}", world.namespace)));
    // Every test client signs in from one loopback address.
    settings.sign_in_per_address.burst = 100_000;
    let identity_app = identity::Application::build(settings).await.unwrap();
    let identity_addr = identity_app.grpc_addr();
    tokio::spawn(identity_app.run_until_stopped(stop.clone()));
    identity_addr
}

/// District D with school S (class 1A1: three students and a homeroom teacher;
/// class 1A2: one student and another homeroom teacher; a principal; a guardian
/// of the first student) and school T (a principal); a district admin of D and
/// one of another district (both registered as staff of a school); the operator.
/// Tokens are access tokens of each.
pub struct School {
    pub identity: Identity,
    pub district_id: String,
    pub school_id: String,
    pub other_school_id: String,
    pub class_id: String,
    pub other_class_id: String,
    pub students: Vec<String>,
    pub other_student: String,
    pub homeroom: String,
    /// The username of 1A1's homeroom teacher (password [`PASSWORD`]).
    pub homeroom_username: String,
    pub other_homeroom: String,
    pub principal: String,
    /// The principal's username (password [`PASSWORD`]), to sign in as a person does.
    pub principal_username: String,
    pub guardian: String,
    /// The guardian's username (password [`PASSWORD`]).
    pub guardian_username: String,
    pub other_school_principal: String,
    pub district_admin: String,
    /// Reads the district's figures and sheets, without personal details.
    pub district_viewer: String,
    pub other_district_admin: String,
    pub operator: String,
}

impl School {
    pub async fn create(identity_addr: SocketAddr) -> Self {
        let identity = Identity::connect(identity_addr).await;
        let admin = identity.admin.clone();
        let district = |name: &'static str| {
            let identity = &identity;
            async move {
                identity
                    .call(
                        id::CreateDistrictRequest {
                            request_id: rid(),
                            name: name.into(),
                            external_ref: format!("D{}", &rid()[24..]),
                        },
                        |mut c, r| async move { c.create_district(r).await },
                    )
                    .await
                    .id
            }
        };
        let district_id = district("Huyện Củ Chi").await;
        let other_district_id = district("Huyện Hóc Môn").await;
        let school_id = identity
            .school(&district_id, "Trường Tiểu học Tân Thông")
            .await;
        let other_school_id = identity
            .school(&district_id, "Trường Tiểu học Tân Tiến")
            .await;
        let other_district_school = identity
            .school(&other_district_id, "Trường Tiểu học Bà Điểm")
            .await;
        let class_id = identity.class(&school_id, "1A1").await;
        let other_class_id = identity.class(&school_id, "1A2").await;
        let mut students = Vec::new();
        for name in ["Nguyễn Thị Ánh", "Trần Văn Bình", "Lê Văn Cường"] {
            students.push(identity.student(&school_id, &class_id, name).await);
        }
        let other_student = identity
            .student(&school_id, &other_class_id, "Phạm Thị Dung")
            .await;

        let n = u32::from_str_radix(&rid()[30..], 16).unwrap() % 1_000_000;
        let homeroom_staff = identity.staff(&school_id, &format!("0901{n:06}")).await;
        let other_homeroom_staff = identity.staff(&school_id, &format!("0902{n:06}")).await;
        let principal_staff = identity.staff(&school_id, &format!("0903{n:06}")).await;
        let other_principal_staff = identity
            .staff(&other_school_id, &format!("0904{n:06}"))
            .await;
        let district_staff = identity.staff(&school_id, &format!("0906{n:06}")).await;
        let viewer_staff = identity
            .staff(&other_school_id, &format!("0908{n:06}"))
            .await;
        let other_district_staff = identity
            .staff(&other_district_school, &format!("0907{n:06}"))
            .await;
        identity.homeroom(&class_id, &homeroom_staff).await;
        identity
            .homeroom(&other_class_id, &other_homeroom_staff)
            .await;
        let guardian_id = identity
            .call(
                id::RegisterGuardianRequest {
                    request_id: rid(),
                    school_id: school_id.clone(),
                    full_name: "Nguyễn Văn Em".into(),
                    phone: format!("0905{n:06}"),
                    ..Default::default()
                },
                |mut c, r| async move { c.register_guardian(r).await },
            )
            .await
            .id;
        identity
            .call(
                id::LinkGuardianRequest {
                    request_id: rid(),
                    guardian_id: guardian_id.clone(),
                    student_id: students[0].clone(),
                    relation: id::Relation::Father as i32,
                },
                |mut c, r| async move { c.link_guardian(r).await },
            )
            .await;

        let (_, homeroom_user) = identity.account(&school_id, &homeroom_staff).await;
        let (_, other_homeroom_user) = identity.account(&school_id, &other_homeroom_staff).await;
        let (principal_account, principal_user) =
            identity.account(&school_id, &principal_staff).await;
        let (other_principal_account, other_principal_user) = identity
            .account(&other_school_id, &other_principal_staff)
            .await;
        let (district_account, district_user) = identity.account(&school_id, &district_staff).await;
        let (viewer_account, viewer_user) = identity.account(&other_school_id, &viewer_staff).await;
        let (other_district_account, other_district_user) = identity
            .account(&other_district_school, &other_district_staff)
            .await;
        let (_, guardian_user) = identity.account(&school_id, &guardian_id).await;
        identity
            .grant(
                &principal_account,
                id::Role::Principal,
                id::ScopeKind::School,
                &school_id,
            )
            .await;
        identity
            .grant(
                &other_principal_account,
                id::Role::Principal,
                id::ScopeKind::School,
                &other_school_id,
            )
            .await;
        identity
            .grant(
                &district_account,
                id::Role::DistrictAdmin,
                id::ScopeKind::District,
                &district_id,
            )
            .await;
        identity
            .grant(
                &viewer_account,
                id::Role::DistrictViewer,
                id::ScopeKind::District,
                &district_id,
            )
            .await;
        identity
            .grant(
                &other_district_account,
                id::Role::DistrictAdmin,
                id::ScopeKind::District,
                &other_district_id,
            )
            .await;

        Self {
            district_id,
            school_id,
            other_school_id,
            class_id,
            other_class_id,
            students,
            other_student,
            homeroom: identity.token(&homeroom_user).await,
            homeroom_username: homeroom_user,
            other_homeroom: identity.token(&other_homeroom_user).await,
            principal: identity.token(&principal_user).await,
            principal_username: principal_user,
            guardian: identity.token(&guardian_user).await,
            guardian_username: guardian_user,
            other_school_principal: identity.token(&other_principal_user).await,
            district_admin: identity.token(&district_user).await,
            district_viewer: identity.token(&viewer_user).await,
            other_district_admin: identity.token(&other_district_user).await,
            operator: admin,
            identity,
        }
    }
}

/// Waits until attendance's projection knows the class, its homeroom teacher
/// and its students.
pub async fn wait_until_attendance_knows(attendance_pool: &PgPool, class_id: &str, students: i64) {
    let class = Uuid::parse_str(class_id).expect("a class id");
    eventually("the class projected into attendance", Duration::from_secs(20), || async {
        let known: (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM classes WHERE id = $1 AND homeroom_teacher_id IS NOT NULL), \
                    (SELECT count(*) FROM enrolment_periods WHERE class_id = $1)",
        )
        .bind(class)
        .fetch_one(attendance_pool)
        .await
        .ok()?;
        (known.0 && known.1 == students).then_some(())
    })
    .await;
}

/// Today's school date, `YYYY-MM-DD`.
pub fn today() -> String {
    kernel::dates::format(school::dates::local_today())
}

pub fn days_ago(days: i64) -> String {
    kernel::dates::format(school::dates::local_today() - time::Duration::days(days))
}

pub struct Identity {
    directory: DirectoryServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
    admin: String,
}

impl Identity {
    /// Identity at `identity_addr`, called as the operator.
    pub async fn connect(identity_addr: SocketAddr) -> Self {
        let identity_channel = channel(identity_addr);
        let mut auth = AuthServiceClient::new(identity_channel.clone());
        let admin = auth
            .login(id::LoginRequest {
                username: "admin".into(),
                password: ADMIN_PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
        Self {
            directory: DirectoryServiceClient::new(identity_channel),
            auth,
            admin,
        }
    }

    pub async fn call<T, R, F, Fut>(&self, message: T, f: F) -> R
    where
        F: FnOnce(DirectoryServiceClient<Channel>, tonic::Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        f(self.directory.clone(), with_token(message, &self.admin))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn school(&self, district_id: &str, name: &str) -> String {
        self.call(
            id::CreateSchoolRequest {
                request_id: rid(),
                district_id: district_id.into(),
                name: name.into(),
                external_ref: format!("S{}", &rid()[24..]),
            },
            |mut c, r| async move { c.create_school(r).await },
        )
        .await
        .id
    }

    pub async fn class(&self, school_id: &str, name: &str) -> String {
        self.call(
            id::CreateClassRequest {
                request_id: rid(),
                school_id: school_id.into(),
                name: name.into(),
                grade: 1,
                school_year: school::dates::school_year_of(school::dates::local_today()),
                ..Default::default()
            },
            |mut c, r| async move { c.create_class(r).await },
        )
        .await
        .id
    }

    pub async fn student(&self, school_id: &str, class_id: &str, name: &str) -> String {
        let student = self
            .call(
                id::RegisterStudentRequest {
                    request_id: rid(),
                    school_id: school_id.into(),
                    full_name: name.into(),
                    birth_date: "2019-03-01".into(),
                    gender: id::Gender::Male as i32,
                    external_ref: format!("HS{}", &rid()[24..]),
                },
                |mut c, r| async move { c.register_student(r).await },
            )
            .await
            .id;
        self.call(
            id::EnrollStudentRequest {
                request_id: rid(),
                student_id: student.clone(),
                class_id: class_id.into(),
            },
            |mut c, r| async move { c.enroll_student(r).await },
        )
        .await;
        student
    }

    pub async fn staff(&self, school_id: &str, phone: &str) -> String {
        self.call(
            id::RegisterStaffRequest {
                request_id: rid(),
                school_id: school_id.into(),
                full_name: "Giáo Viên".into(),
                phone: phone.into(),
                position: String::new(),
                ..Default::default()
            },
            |mut c, r| async move { c.register_staff(r).await },
        )
        .await
        .id
    }

    /// Issues, activates and signs in; returns (account id, username).
    pub async fn account(&self, school_id: &str, person_id: &str) -> (String, String) {
        let issued = self
            .auth
            .clone()
            .issue_accounts(with_token(
                id::IssueAccountsRequest {
                    request_id: rid(),
                    school_id: school_id.into(),
                    person_ids: vec![person_id.into()],
                    ..Default::default()
                },
                &self.admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .accounts
            .remove(0);
        self.auth
            .clone()
            .activate_account(id::ActivateAccountRequest {
                username: issued.username.clone(),
                activation_code: issued.activation_code,
                new_password: PASSWORD.into(),
            })
            .await
            .unwrap();
        (issued.account_id, issued.username)
    }

    pub async fn token(&self, username: &str) -> String {
        self.auth
            .clone()
            .login(id::LoginRequest {
                username: username.into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .access_token
    }

    pub async fn grant(
        &self,
        account_id: &str,
        role: id::Role,
        scope_kind: id::ScopeKind,
        scope_id: &str,
    ) {
        self.auth
            .clone()
            .grant_role(with_token(
                id::GrantRoleRequest {
                    request_id: rid(),
                    account_id: account_id.into(),
                    role: role as i32,
                    scope_kind: scope_kind as i32,
                    scope_id: scope_id.into(),
                },
                &self.admin,
            ))
            .await
            .unwrap();
    }

    pub async fn homeroom(&self, class_id: &str, staff_id: &str) {
        self.call(
            id::AssignHomeroomTeacherRequest {
                request_id: rid(),
                class_id: class_id.into(),
                staff_id: staff_id.into(),
            },
            |mut c, r| async move { c.assign_homeroom_teacher(r).await },
        )
        .await;
    }
}
