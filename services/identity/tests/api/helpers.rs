//! Spawning the identity service in-process, clients with bearer tokens, and a
//! fixture district with a person in every role.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use identity::{Application, Settings};
use kernel::config::ServiceId;
use kernel::testing::TestWorld;
pub use kernel::testing::request_id as rid;
use lienlac_proto::identity::v1 as pb;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "password-123";

pub type Directory = DirectoryServiceClient<InterceptedService<Channel, Bearer>>;
pub type Auth = AuthServiceClient<InterceptedService<Channel, Bearer>>;

/// Adds `authorization: Bearer <token>` when there is a token.
#[derive(Clone)]
pub struct Bearer(Option<String>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        Ok(request)
    }
}

pub struct TestApp {
    pub world: TestWorld,
    pub addr: SocketAddr,
    pub pool: PgPool,
    pub settings: Settings,
    channel: Channel,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_in(TestWorld::new(), |_| {}).await
    }

    /// Spawns the service in `world` with settings changed by `change`.
    pub async fn spawn_in(world: TestWorld, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::defaults(world.config(ServiceId::IDENTITY));
        settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
        settings.argon2.memory_kib = 1024;
        settings.argon2.iterations = 1;
        settings.keep_keys_in(&key_file(&world.namespace, ""));
        // The fixtures sign in dozens of times from one address; the throttle's own
        // tests set their limits.
        settings.sign_in_per_address.burst = 10_000;
        settings.sign_in_per_username.burst = 1_000;
        change(&mut settings);
        let app = Application::build(settings.clone()).await.unwrap();
        let addr = app.grpc_addr();
        let pool = app.pool().clone();
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(stop.clone()));
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        Self {
            world,
            addr,
            pool,
            settings,
            channel,
            stop,
            task: Some(task),
        }
    }

    /// Stops the service and hands back its world (to start it again).
    pub async fn stop(mut self) -> TestWorld {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
        std::mem::take(&mut self.world)
    }

    pub fn directory(&self, token: &str) -> Directory {
        DirectoryServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer(Some(token.to_owned())),
        )
    }

    pub fn anonymous_directory(&self) -> Directory {
        DirectoryServiceClient::with_interceptor(self.channel.clone(), Bearer(None))
    }

    pub fn auth(&self, token: Option<&str>) -> Auth {
        AuthServiceClient::with_interceptor(self.channel.clone(), Bearer(token.map(str::to_owned)))
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<pb::TokenPair, tonic::Status> {
        self.auth(None)
            .login(pb::LoginRequest {
                username: username.to_owned(),
                password: password.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD)
            .await
            .unwrap()
            .access_token
    }

    /// The `data` of every stored event, as text.
    pub async fn stored_events(&self) -> Vec<(String, String)> {
        sqlx::query_as("SELECT event_type, data::text FROM events ORDER BY position")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn key_file(namespace: &str, name: &str) -> PathBuf {
    std::env::temp_dir()
        .join(format!("lienlac-{namespace}"))
        .join(name)
}

/// The people of one school.
#[derive(Debug, Clone, Default)]
pub struct SchoolFixture {
    pub school_id: String,
    pub class_id: String,
    pub other_class_id: String,
    pub student_id: String,
    pub other_student_id: String,
    pub guardian_id: String,
    pub staff_id: String,
}

/// Roles a test signs in as, all in school A of district 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persona {
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
}

impl Persona {
    pub const ALL: [Persona; 10] = [
        Persona::Operator,
        Persona::DistrictAdmin,
        Persona::DistrictViewer,
        Persona::Principal,
        Persona::VicePrincipal,
        Persona::ItOfficer,
        Persona::Teacher,
        Persona::Staff,
        Persona::HomeroomTeacher,
        Persona::Guardian,
    ];
}

/// District 1 with schools A (every persona) and B, and district 2 with school C.
pub struct Fixture {
    pub district_id: String,
    pub other_district_id: String,
    pub a: SchoolFixture,
    pub b: SchoolFixture,
    pub c: SchoolFixture,
    pub tokens: HashMap<Persona, String>,
    pub accounts: HashMap<Persona, String>,
    pub person_ids: HashMap<Persona, String>,
}

static PHONE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// A fresh Vietnamese mobile number.
pub fn phone() -> String {
    let n = PHONE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("09{:08}", n + (std::process::id() % 1000) * 100_000)
}

pub async fn create_district(directory: &mut Directory, name: &str) -> String {
    directory
        .create_district(pb::CreateDistrictRequest {
            request_id: rid(),
            name: name.to_owned(),
            external_ref: format!("D{}", &rid()[24..]),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn create_school(directory: &mut Directory, district_id: &str, name: &str) -> String {
    directory
        .create_school(pb::CreateSchoolRequest {
            request_id: rid(),
            district_id: district_id.to_owned(),
            name: name.to_owned(),
            external_ref: format!("S{}", &rid()[24..]),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn create_class(directory: &mut Directory, school_id: &str, name: &str) -> String {
    directory
        .create_class(pb::CreateClassRequest {
            request_id: rid(),
            school_id: school_id.to_owned(),
            name: name.to_owned(),
            grade: 1,
            school_year: "2025-2026".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn register_student(directory: &mut Directory, school_id: &str, name: &str) -> String {
    directory
        .register_student(pb::RegisterStudentRequest {
            request_id: rid(),
            school_id: school_id.to_owned(),
            full_name: name.to_owned(),
            birth_date: "2019-05-01".to_owned(),
            gender: pb::Gender::Female as i32,
            external_ref: format!("HS{}", &rid()[24..]),
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn register_staff(directory: &mut Directory, school_id: &str, name: &str) -> String {
    directory
        .register_staff(pb::RegisterStaffRequest {
            request_id: rid(),
            school_id: school_id.to_owned(),
            full_name: name.to_owned(),
            phone: phone(),
            position: "Giáo viên".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

pub async fn register_guardian(directory: &mut Directory, school_id: &str, name: &str) -> String {
    directory
        .register_guardian(pb::RegisterGuardianRequest {
            request_id: rid(),
            school_id: school_id.to_owned(),
            full_name: name.to_owned(),
            phone: phone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id
}

/// The students `ListStudents` lists for a class.
pub async fn class_students(directory: &mut Directory, class_id: &str) -> Vec<pb::Person> {
    directory
        .list_students(pb::ListStudentsRequest {
            class_id: class_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .students
}

/// The fields an INVALID_ARGUMENT's `BadRequest` details name, in order.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|violation| violation.field.clone())
        .collect()
}

pub async fn enroll(directory: &mut Directory, student_id: &str, class_id: &str) {
    directory
        .enroll_student(pb::EnrollStudentRequest {
            request_id: rid(),
            student_id: student_id.to_owned(),
            class_id: class_id.to_owned(),
        })
        .await
        .unwrap();
}

pub async fn link(directory: &mut Directory, guardian_id: &str, student_id: &str) {
    directory
        .link_guardian(pb::LinkGuardianRequest {
            request_id: rid(),
            guardian_id: guardian_id.to_owned(),
            student_id: student_id.to_owned(),
            relation: pb::Relation::Mother as i32,
        })
        .await
        .unwrap();
}

/// A school with two classes, a student in each, a guardian of the first student
/// and a staff member.
pub async fn school_fixture(
    directory: &mut Directory,
    district_id: &str,
    name: &str,
) -> SchoolFixture {
    let school_id = create_school(directory, district_id, name).await;
    let class_id = create_class(directory, &school_id, "1A1").await;
    let other_class_id = create_class(directory, &school_id, "1A2").await;
    let student_id = register_student(directory, &school_id, "Nguyễn Thị Ánh").await;
    let other_student_id = register_student(directory, &school_id, "Trần Văn Bình").await;
    enroll(directory, &student_id, &class_id).await;
    enroll(directory, &other_student_id, &other_class_id).await;
    let guardian_id = register_guardian(directory, &school_id, "Nguyễn Văn Cường").await;
    link(directory, &guardian_id, &student_id).await;
    let staff_id = register_staff(directory, &school_id, "Lê Thị Dung").await;
    SchoolFixture {
        school_id,
        class_id,
        other_class_id,
        student_id,
        other_student_id,
        guardian_id,
        staff_id,
    }
}

/// Issues and activates an account for each person; returns (account id, token).
pub async fn accounts_for(
    app: &TestApp,
    admin: &str,
    school_id: &str,
    person_ids: &[String],
) -> Vec<(String, String)> {
    let issued = app
        .auth(Some(admin))
        .issue_accounts(pb::IssueAccountsRequest {
            request_id: rid(),
            school_id: school_id.to_owned(),
            person_ids: person_ids.to_vec(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    for person_id in person_ids {
        let account = issued
            .accounts
            .iter()
            .find(|a| &a.person_id == person_id)
            .unwrap();
        let pair = app
            .auth(None)
            .activate_account(pb::ActivateAccountRequest {
                username: account.username.clone(),
                activation_code: account.activation_code.clone(),
                new_password: PASSWORD.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        out.push((account.account_id.clone(), pair.access_token));
    }
    out
}

pub async fn grant(
    app: &TestApp,
    token: &str,
    account_id: &str,
    role: pb::Role,
    scope: pb::ScopeKind,
    scope_id: &str,
) {
    app.auth(Some(token))
        .grant_role(pb::GrantRoleRequest {
            request_id: rid(),
            account_id: account_id.to_owned(),
            role: role as i32,
            scope_kind: scope as i32,
            scope_id: scope_id.to_owned(),
        })
        .await
        .unwrap();
}

impl Fixture {
    pub async fn create(app: &TestApp) -> Self {
        let admin = app.admin_token().await;
        let mut directory = app.directory(&admin);
        let district_id = create_district(&mut directory, "Huyện Củ Chi").await;
        let other_district_id = create_district(&mut directory, "Huyện Hóc Môn").await;
        let a = school_fixture(&mut directory, &district_id, "Trường Tiểu học Tân Thông").await;
        let b = school_fixture(&mut directory, &district_id, "Trường Tiểu học Tân Tiến").await;
        let c = school_fixture(
            &mut directory,
            &other_district_id,
            "Trường Tiểu học Bà Điểm",
        )
        .await;

        let staff_personas = [
            Persona::DistrictAdmin,
            Persona::DistrictViewer,
            Persona::Principal,
            Persona::VicePrincipal,
            Persona::ItOfficer,
            Persona::Teacher,
            Persona::Staff,
            Persona::HomeroomTeacher,
        ];
        let mut person_ids = HashMap::new();
        for persona in staff_personas {
            let id =
                register_staff(&mut directory, &a.school_id, &format!("Cán bộ {persona:?}")).await;
            person_ids.insert(persona, id);
        }
        person_ids.insert(Persona::Guardian, a.guardian_id.clone());
        directory
            .assign_homeroom_teacher(pb::AssignHomeroomTeacherRequest {
                request_id: rid(),
                class_id: a.class_id.clone(),
                staff_id: person_ids[&Persona::HomeroomTeacher].clone(),
            })
            .await
            .unwrap();
        let order: Vec<Persona> = staff_personas
            .iter()
            .copied()
            .chain([Persona::Guardian])
            .collect();
        let ids: Vec<String> = order.iter().map(|p| person_ids[p].clone()).collect();
        let issued = accounts_for(app, &admin, &a.school_id, &ids).await;
        let mut accounts: HashMap<Persona, String> = order
            .iter()
            .zip(&issued)
            .map(|(p, (account, _))| (*p, account.clone()))
            .collect();
        let school_roles = [
            (
                Persona::DistrictAdmin,
                pb::Role::DistrictAdmin,
                pb::ScopeKind::District,
                &district_id,
            ),
            (
                Persona::DistrictViewer,
                pb::Role::DistrictViewer,
                pb::ScopeKind::District,
                &district_id,
            ),
            (
                Persona::Principal,
                pb::Role::Principal,
                pb::ScopeKind::School,
                &a.school_id,
            ),
            (
                Persona::VicePrincipal,
                pb::Role::VicePrincipal,
                pb::ScopeKind::School,
                &a.school_id,
            ),
            (
                Persona::ItOfficer,
                pb::Role::ItOfficer,
                pb::ScopeKind::School,
                &a.school_id,
            ),
            (
                Persona::Teacher,
                pb::Role::Teacher,
                pb::ScopeKind::School,
                &a.school_id,
            ),
        ];
        for (persona, role, scope, scope_id) in school_roles {
            grant(app, &admin, &accounts[&persona], role, scope, scope_id).await;
        }
        let mut tokens = HashMap::new();
        for (persona, (_, _)) in order.iter().zip(&issued) {
            let username = username_of(app, &accounts[persona]).await;
            let token = app.login(&username, PASSWORD).await.unwrap().access_token;
            tokens.insert(*persona, token);
        }
        let operator_account: String =
            sqlx::query_scalar("SELECT id::text FROM accounts WHERE username = 'admin'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
        accounts.insert(Persona::Operator, operator_account);
        tokens.insert(Persona::Operator, admin);
        Self {
            district_id,
            other_district_id,
            a,
            b,
            c,
            tokens,
            accounts,
            person_ids,
        }
    }

    pub fn token(&self, persona: Persona) -> &str {
        &self.tokens[&persona]
    }
}

pub async fn username_of(app: &TestApp, account_id: &str) -> String {
    sqlx::query_scalar("SELECT username FROM accounts WHERE id = $1::uuid")
        .bind(account_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}
