//! Identity and attendance in one test world, and a school to take roll calls in.

#![allow(dead_code)]

use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_test_support::{
    Identity, School, days_ago, start_identity, today, wait_until_attendance_knows,
};
pub use lienlac_test_support::{rid, with_token};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A school in district D: class 1A1 (three students, homeroom teacher) and class
/// 1A2 (one student, another homeroom teacher), a principal, a guardian of the
/// first student; and a principal of another school.
pub struct Stack {
    pub world: TestWorld,
    pub pool: PgPool,
    pub attendance: AttendanceServiceClient<Channel>,
    pub identity: Identity,
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
    pub operator: String,
    stop: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Stack {
    pub async fn start() -> Self {
        let world = TestWorld::new();
        let stop = CancellationToken::new();
        let identity_addr = start_identity(&world, &stop).await;
        let mut config = world.config(ServiceId::ATTENDANCE);
        config.identity_url = format!("http://{identity_addr}");
        let attendance_app = attendance::Application::build(attendance::Settings::defaults(config))
            .await
            .unwrap();
        let attendance_addr = attendance_app.grpc_addr();
        let pool = attendance_app.pool().clone();
        tokio::spawn(attendance_app.run_until_stopped(stop.clone()));
        let school = School::create(identity_addr).await;

        let stack = Self {
            world,
            pool,
            attendance: AttendanceServiceClient::new(channel(attendance_addr)),
            identity: school.identity,
            district_id: school.district_id,
            school_id: school.school_id,
            class_id: school.class_id,
            other_class_id: school.other_class_id,
            students: school.students,
            other_student: school.other_student,
            homeroom: school.homeroom,
            other_homeroom: school.other_homeroom,
            principal: school.principal,
            guardian: school.guardian,
            other_school_principal: school.other_school_principal,
            operator: school.operator,
            stop,
        };
        wait_until_attendance_knows(&stack.pool, &stack.class_id, 3).await;
        wait_until_attendance_knows(&stack.pool, &stack.other_class_id, 1).await;
        stack
    }

    pub fn today(&self) -> String {
        today()
    }

    pub fn days_ago(&self, days: i64) -> String {
        days_ago(days)
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
