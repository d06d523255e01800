//! Identity, attendance and reporting in one test world, and a school with roll
//! calls to report on.

#![allow(dead_code)]

use std::time::Duration;

use kernel::config::ServiceId;
use kernel::testing::{TestWorld, channel, eventually};
use lienlac_proto::attendance::v1 as att;
use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::reporting::v1 as pb;
use lienlac_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use lienlac_test_support::{
    Identity, School, days_ago, start_identity, today, wait_until_attendance_knows,
};
pub use lienlac_test_support::{rid, with_token};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

/// District D with school S (class 1A1: three students and a homeroom teacher;
/// class 1A2: one student and another homeroom teacher; a principal; a guardian
/// of the first student) and school T (a principal); a district admin of D, a
/// district admin of another district, and the operator.
pub struct Stack {
    pub world: TestWorld,
    pub attendance: AttendanceServiceClient<Channel>,
    pub reporting: ReportingServiceClient<Channel>,
    pub reporting_pool: PgPool,
    /// Identity's APIs as the platform operator.
    pub identity: Identity,
    pub attendance_pool: PgPool,
    pub district_id: String,
    pub school_id: String,
    pub other_school_id: String,
    pub class_id: String,
    pub other_class_id: String,
    pub students: Vec<String>,
    pub other_student: String,
    pub homeroom: String,
    pub other_homeroom: String,
    pub principal: String,
    pub guardian: String,
    pub other_school_principal: String,
    pub district_admin: String,
    pub district_viewer: String,
    pub other_district_admin: String,
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
        let attendance_pool = attendance_app.pool().clone();
        tokio::spawn(attendance_app.run_until_stopped(stop.clone()));
        let mut config = world.config(ServiceId::REPORTING);
        config.identity_url = format!("http://{identity_addr}");
        let mut settings = reporting::Settings::defaults(config);
        // Small batches: a rebuild of a test's few hundred events writes several at once.
        settings.rebuild_batch_size = 16;
        settings.attendance_url = format!("http://{attendance_addr}");
        let reporting_app = reporting::Application::build(settings).await.unwrap();
        let reporting_addr = reporting_app.grpc_addr();
        let reporting_pool = reporting_app.pool().clone();
        tokio::spawn(reporting_app.run_until_stopped(stop.clone()));
        let school = School::create(identity_addr).await;

        let stack = Self {
            attendance: AttendanceServiceClient::new(channel(attendance_addr)),
            reporting: ReportingServiceClient::new(channel(reporting_addr)),
            reporting_pool,
            attendance_pool,
            identity: school.identity,
            district_id: school.district_id,
            school_id: school.school_id,
            other_school_id: school.other_school_id,
            class_id: school.class_id,
            other_class_id: school.other_class_id,
            students: school.students,
            other_student: school.other_student,
            homeroom: school.homeroom,
            other_homeroom: school.other_homeroom,
            principal: school.principal,
            guardian: school.guardian,
            other_school_principal: school.other_school_principal,
            district_admin: school.district_admin,
            district_viewer: school.district_viewer,
            other_district_admin: school.other_district_admin,
            operator: school.operator,
            world,
            stop,
        };
        wait_until_attendance_knows(&stack.attendance_pool, &stack.class_id, 3).await;
        wait_until_attendance_knows(&stack.attendance_pool, &stack.other_class_id, 1).await;
        stack.wait_until_reporting_knows_the_guardian().await;
        stack
    }

    async fn wait_until_reporting_knows_the_guardian(&self) {
        let student = self.students[0].clone();
        eventually(
            "reporting knows the directory",
            Duration::from_secs(20),
            || async {
                let answer = self
                    .reporting
                    .clone()
                    .get_student_absences(with_token(
                        pb::GetStudentAbsencesRequest {
                            student_id: student.clone(),
                            from_date: self.today(),
                            to_date: self.today(),
                        },
                        &self.guardian,
                    ))
                    .await;
                answer.ok().map(|_| ())
            },
        )
        .await;
    }

    pub fn today(&self) -> String {
        today()
    }

    pub fn days_ago(&self, days: i64) -> String {
        days_ago(days)
    }

    /// Submits the morning roll call of 1A1 with these absentees.
    pub async fn submit(
        &self,
        date: &str,
        absent: &[(usize, att::AttendanceStatus)],
    ) -> att::RollCall {
        let marks = absent
            .iter()
            .map(|(student, status)| att::Mark {
                student_id: self.students[*student].clone(),
                status: *status as i32,
                ..Default::default()
            })
            .collect();
        self.attendance
            .clone()
            .submit_roll_call(with_token(
                att::SubmitRollCallRequest {
                    request_id: rid(),
                    class_id: self.class_id.clone(),
                    date: date.into(),
                    session: att::Session::Morning as i32,
                    marks,
                    taken_at: String::new(),
                },
                &self.homeroom,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn correct(&self, date: &str, student: usize, status: att::AttendanceStatus) {
        self.attendance
            .clone()
            .correct_mark(with_token(
                att::CorrectMarkRequest {
                    request_id: rid(),
                    class_id: self.class_id.clone(),
                    date: date.into(),
                    session: att::Session::Morning as i32,
                    student_id: self.students[student].clone(),
                    status: status as i32,
                    reason: "Phụ huynh báo lại".into(),
                    note: String::new(),
                },
                &self.homeroom,
            ))
            .await
            .unwrap();
    }

    pub async fn school_summary(
        &self,
        token: &str,
        date: &str,
    ) -> Result<pb::SchoolDailySummary, tonic::Status> {
        self.reporting
            .clone()
            .get_school_daily_summary(with_token(
                pb::GetSchoolDailySummaryRequest {
                    school_id: self.school_id.clone(),
                    date: date.into(),
                },
                token,
            ))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The read models' generations, as the operator sees them.
    pub async fn projections(&self) -> Vec<pb::ProjectionStatus> {
        self.reporting
            .clone()
            .list_projections(with_token(pb::ListProjectionsRequest {}, &self.operator))
            .await
            .unwrap()
            .into_inner()
            .projections
    }

    /// Waits until the school's morning of `date` shows `counts` (present,
    /// excused, unexcused, late).
    pub async fn until_morning_counts(
        &self,
        date: &str,
        counts: [i32; 4],
    ) -> pb::SchoolDailySummary {
        eventually(
            "the school's summary shows the roll call",
            Duration::from_secs(10),
            || async {
                let summary = self.school_summary(&self.principal, date).await.ok()?;
                let morning = summary.sessions.first()?.counts?;
                let shown = [
                    morning.present,
                    morning.absent_excused,
                    morning.absent_unexcused,
                    morning.late,
                ];
                (shown == counts).then_some(summary)
            },
        )
        .await
    }
}

impl Stack {
    /// Waits until the school's adoption report on `date` shows these guardians
    /// (total, activated) per class and for the school, and the district's the same.
    pub async fn until_guardian_figures(
        &self,
        date: &str,
        classes: [(&str, i32, i32); 2],
        school: (i32, i32),
    ) {
        let report = |scope: pb::GetAdoptionReportRequest, token: String| {
            let mut client = self.reporting.clone();
            async move {
                client
                    .get_adoption_report(with_token(scope, &token))
                    .await
                    .ok()
                    .map(tonic::Response::into_inner)
            }
        };
        eventually(
            "the adoption report shows the guardians",
            Duration::from_secs(10),
            || async {
                let of_school = report(
                    pb::GetAdoptionReportRequest {
                        school_id: self.school_id.clone(),
                        from_date: date.into(),
                        to_date: date.into(),
                        ..Default::default()
                    },
                    self.principal.clone(),
                )
                .await?;
                let of_district = report(
                    pb::GetAdoptionReportRequest {
                        district_id: self.district_id.clone(),
                        from_date: date.into(),
                        to_date: date.into(),
                        ..Default::default()
                    },
                    self.district_admin.clone(),
                )
                .await?;
                let shown: Vec<(&str, i32, i32)> = of_school.schools[0]
                    .classes
                    .iter()
                    .map(|c| (c.name.as_str(), c.guardians_total, c.guardians_activated))
                    .collect();
                let figures = of_school.schools[0].figures?;
                let totals = of_district.totals?;
                (shown == classes
                    && (figures.guardians_total, figures.guardians_activated) == school
                    && (totals.guardians_total, totals.guardians_activated) == school)
                    .then_some(())
            },
        )
        .await;
    }
}

pub fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}
