//! Identity and attendance in one test world, and a school to take roll calls in.

#![allow(dead_code)]

use std::time::Duration;

use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually};
pub use kernel::testing::{request_id as rid, with_token};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::identity::v1::auth_service_client::AuthServiceClient;
use lienlac_proto::identity::v1::directory_service_client::DirectoryServiceClient;
use secrecy::SecretString;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "password-123";

/// A school in district D: class 1A1 (three students, homeroom teacher) and class
/// 1A2 (one student, another homeroom teacher), a principal, a guardian of the
/// first student; and a principal of another school.
pub struct Stack {
    pub world: TestWorld,
    pub pool: PgPool,
    pub attendance: AttendanceServiceClient<Channel>,
    pub district_id: String,
    pub school_id: String,
    pub class_id: String,
    pub other_class_id: String,
    pub students: Vec<String>,
    pub other_student: String,
    pub homeroom: String,
    pub other_homeroom: String,
    pub principal: String,
    pub guardian: String,
    pub other_school_principal: String,
    stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Identity {
    directory: DirectoryServiceClient<Channel>,
    auth: AuthServiceClient<Channel>,
    admin: String,
}

impl Identity {
    async fn call<T, R, F, Fut>(&self, message: T, f: F) -> R
    where
        F: FnOnce(DirectoryServiceClient<Channel>, tonic::Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        f(self.directory.clone(), with_token(message, &self.admin))
            .await
            .unwrap()
            .into_inner()
    }

    async fn school(&self, district_id: &str, name: &str) -> String {
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

    async fn class(&self, school_id: &str, name: &str) -> String {
        self.call(
            id::CreateClassRequest {
                request_id: rid(),
                school_id: school_id.into(),
                name: name.into(),
                grade: 1,
                school_year: "2025-2026".into(),
            },
            |mut c, r| async move { c.create_class(r).await },
        )
        .await
        .id
    }

    async fn student(&self, school_id: &str, class_id: &str, name: &str) -> String {
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

    async fn staff(&self, school_id: &str, phone: &str) -> String {
        self.call(
            id::RegisterStaffRequest {
                request_id: rid(),
                school_id: school_id.into(),
                full_name: "Giáo Viên".into(),
                phone: phone.into(),
                position: String::new(),
            },
            |mut c, r| async move { c.register_staff(r).await },
        )
        .await
        .id
    }

    /// Issues, activates and signs in; returns (account id, username).
    async fn account(&self, school_id: &str, person_id: &str) -> (String, String) {
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

    async fn token(&self, username: &str) -> String {
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

    async fn grant_principal(&self, account_id: &str, school_id: &str) {
        self.auth
            .clone()
            .grant_role(with_token(
                id::GrantRoleRequest {
                    request_id: rid(),
                    account_id: account_id.into(),
                    role: id::Role::Principal as i32,
                    scope_kind: id::ScopeKind::School as i32,
                    scope_id: school_id.into(),
                },
                &self.admin,
            ))
            .await
            .unwrap();
    }

    async fn homeroom(&self, class_id: &str, staff_id: &str) {
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

impl Stack {
    pub async fn start() -> Self {
        let world = TestWorld::new();
        let stop = CancellationToken::new();
        let mut settings = identity::Settings::defaults(world.config(ServiceId::IDENTITY));
        settings.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
        settings.argon2.memory_kib = 1024;
        settings.argon2.iterations = 1;
        settings.signing_key_file = std::env::temp_dir()
            .join(format!("lienlac-{}", world.namespace))
            .join("key.pem");
        let identity_app = identity::Application::build(settings).await.unwrap();
        let identity_addr = identity_app.grpc_addr();
        tokio::spawn(identity_app.run_until_stopped(stop.clone()));
        let mut config = world.config(ServiceId::ATTENDANCE);
        config.identity_url = format!("http://{identity_addr}");
        let attendance_app = attendance::Application::build(attendance::Settings::defaults(config))
            .await
            .unwrap();
        let attendance_addr = attendance_app.grpc_addr();
        let pool = attendance_app.pool().clone();
        tokio::spawn(attendance_app.run_until_stopped(stop.clone()));

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
        let identity = Identity {
            directory: DirectoryServiceClient::new(identity_channel),
            auth,
            admin,
        };
        let district_id = identity
            .call(
                id::CreateDistrictRequest {
                    request_id: rid(),
                    name: "Huyện Củ Chi".into(),
                    external_ref: format!("D{}", &rid()[24..]),
                },
                |mut c, r| async move { c.create_district(r).await },
            )
            .await
            .id;
        let school_id = identity
            .school(&district_id, "Trường Tiểu học Tân Thông")
            .await;
        let other_school = identity
            .school(&district_id, "Trường Tiểu học Tân Tiến")
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
        let other_principal_staff = identity.staff(&other_school, &format!("0904{n:06}")).await;
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
            .account(&other_school, &other_principal_staff)
            .await;
        let (_, guardian_user) = identity.account(&school_id, &guardian_id).await;
        identity
            .grant_principal(&principal_account, &school_id)
            .await;
        identity
            .grant_principal(&other_principal_account, &other_school)
            .await;

        let stack = Self {
            world,
            pool,
            attendance: AttendanceServiceClient::new(channel(attendance_addr)),
            district_id,
            school_id,
            class_id: class_id.clone(),
            other_class_id: other_class_id.clone(),
            students,
            other_student,
            homeroom: identity.token(&homeroom_user).await,
            other_homeroom: identity.token(&other_homeroom_user).await,
            principal: identity.token(&principal_user).await,
            guardian: identity.token(&guardian_user).await,
            other_school_principal: identity.token(&other_principal_user).await,
            stop,
        };
        stack.wait_for_directory(&class_id, 3).await;
        stack.wait_for_directory(&other_class_id, 1).await;
        stack
    }

    /// Waits until attendance's projection knows the class, its homeroom teacher
    /// and its students.
    async fn wait_for_directory(&self, class_id: &str, students: i64) {
        let class = Uuid::parse_str(class_id).unwrap();
        eventually("the class projected into attendance", Duration::from_secs(20), || async {
            let known: (bool, i64) = sqlx::query_as(
                "SELECT EXISTS (SELECT 1 FROM classes WHERE id = $1 AND homeroom_teacher_id IS NOT NULL), \
                        (SELECT count(*) FROM enrolment_periods WHERE class_id = $1)",
            )
            .bind(class)
            .fetch_one(&self.pool)
            .await
            .ok()?;
            (known.0 && known.1 == students).then_some(())
        })
        .await;
    }

    pub fn today(&self) -> String {
        (time::OffsetDateTime::now_utc() + time::Duration::hours(7))
            .date()
            .to_string()
    }

    pub fn days_ago(&self, days: i64) -> String {
        (time::OffsetDateTime::now_utc() + time::Duration::hours(7) - time::Duration::days(days))
            .date()
            .to_string()
    }

    pub fn submission(&self, date: &str, marks: Vec<pb::Mark>) -> pb::SubmitRollCallRequest {
        pb::SubmitRollCallRequest {
            request_id: rid(),
            class_id: self.class_id.clone(),
            date: date.to_owned(),
            session: pb::Session::Morning as i32,
            marks,
            taken_at: String::new(),
        }
    }

    pub async fn submit(
        &self,
        token: &str,
        request: pb::SubmitRollCallRequest,
    ) -> Result<pb::RollCall, tonic::Status> {
        self.attendance
            .clone()
            .submit_roll_call(with_token(request, token))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn get(&self, token: &str, date: &str) -> Result<pb::RollCall, tonic::Status> {
        self.attendance
            .clone()
            .get_roll_call(with_token(
                pb::GetRollCallRequest {
                    class_id: self.class_id.clone(),
                    date: date.into(),
                    session: pb::Session::Morning as i32,
                },
                token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Event types appended to this class's roll call of `date`, in order.
    pub async fn events(&self, date: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version",
        )
        .bind(format!(
            "roll_call:{}:{date}:SESSION_MORNING",
            self.class_id
        ))
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }
}

pub fn mark(student_id: &str, status: pb::AttendanceStatus) -> pb::Mark {
    pb::Mark {
        student_id: student_id.to_owned(),
        status: status as i32,
        ..Default::default()
    }
}

impl Stack {
    pub async fn request_leave(
        &self,
        token: &str,
        student: &str,
        from: &str,
        to: &str,
    ) -> Result<pb::LeaveRequest, tonic::Status> {
        let request = pb::RequestLeaveRequest {
            request_id: rid(),
            student_id: student.to_owned(),
            from_date: from.to_owned(),
            to_date: to.to_owned(),
            sessions: vec![pb::Session::Morning as i32],
            reason: "Cháu bị sốt".to_owned(),
        };
        self.attendance
            .clone()
            .request_leave(with_token(request, token))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn decide_leave(
        &self,
        token: &str,
        leave_id: &str,
        approve: bool,
    ) -> Result<pb::LeaveRequest, tonic::Status> {
        let request = pb::DecideLeaveRequest {
            request_id: rid(),
            leave_id: leave_id.to_owned(),
            approve,
            comment: String::new(),
        };
        self.attendance
            .clone()
            .decide_leave(with_token(request, token))
            .await
            .map(tonic::Response::into_inner)
    }
}
