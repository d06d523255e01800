//! `lienlac attendance`: a roll call as a homeroom teacher takes it, by class name
//! and student codes, and the roll call as taken.

use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::attendance::v1::{self as att, AttendanceStatus, Session};
use lienlac_proto::identity::v1 as id;

use crate::directory::{self, Directory};
use crate::{dates, session};

/// `<code>` or `<code>:excused|unexcused|late`.
pub(crate) fn mark(text: &str) -> Result<(String, AttendanceStatus), String> {
    let (code, status) = text.split_once(':').unwrap_or((text, "unexcused"));
    let status = match status {
        "excused" => AttendanceStatus::AbsentExcused,
        "unexcused" => AttendanceStatus::AbsentUnexcused,
        "late" => AttendanceStatus::Late,
        other => return Err(format!("{other:?} is not excused, unexcused or late")),
    };
    if code.is_empty() {
        return Err("a student code is missing".to_owned());
    }
    Ok((code.to_owned(), status))
}

pub(crate) fn status_name(status: i32) -> &'static str {
    match AttendanceStatus::try_from(status) {
        Ok(AttendanceStatus::Present) => "present",
        Ok(AttendanceStatus::AbsentExcused) => "absent, excused",
        Ok(AttendanceStatus::AbsentUnexcused) => "absent, unexcused",
        Ok(AttendanceStatus::Late) => "late",
        _ => "?",
    }
}

pub(crate) struct RollCalls {
    pub(crate) url: String,
    pub(crate) json: bool,
}

impl RollCalls {
    async fn client(&self) -> anyhow::Result<AttendanceServiceClient<tonic::transport::Channel>> {
        Ok(AttendanceServiceClient::new(
            session::connect(&self.url).await?,
        ))
    }

    /// Submits the roll call: the students named are marked, everyone else present.
    pub(crate) async fn submit(
        &self,
        class: &str,
        date: String,
        session: Session,
        marks: Vec<(String, AttendanceStatus)>,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let class_id = directory.class_id(class, &date).await?;
        let students = directory.students(&class_id).await?;
        let mut request_marks = Vec::with_capacity(marks.len());
        for (code, status) in &marks {
            let student = directory::student(&students, code)?;
            request_marks.push(att::Mark {
                student_id: student.id.clone(),
                status: *status as i32,
                ..Default::default()
            });
        }
        let request = att::SubmitRollCallRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            class_id,
            date,
            session: session as i32,
            marks: request_marks,
            taken_at: String::new(),
        };
        let roll_call = self
            .client()
            .await?
            .submit_roll_call(session::authorised(request, &credentials)?)
            .await?
            .into_inner();
        self.print(&roll_call, &students)
    }

    pub(crate) async fn show(
        &self,
        class: &str,
        date: String,
        session: Session,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let class_id = directory.class_id(class, &date).await?;
        let students = directory.students(&class_id).await?;
        let request = att::GetRollCallRequest {
            class_id,
            date,
            session: session as i32,
        };
        let roll_call = self
            .client()
            .await?
            .get_roll_call(session::authorised(request, &credentials)?)
            .await?
            .into_inner();
        self.print(&roll_call, &students)
    }

    fn print(&self, roll_call: &att::RollCall, students: &[id::Person]) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(roll_call)?);
            return Ok(());
        }
        let session = dates::session_name(roll_call.session);
        let present = roll_call
            .marks
            .iter()
            .filter(|mark| mark.status == AttendanceStatus::Present as i32)
            .count();
        println!(
            "{} {session}: {present} of {} present (taken {})",
            roll_call.date,
            roll_call.marks.len(),
            roll_call.taken_at
        );
        for mark in roll_call
            .marks
            .iter()
            .filter(|mark| mark.status != AttendanceStatus::Present as i32)
        {
            // A student who left the class since the list was read shows by id.
            let (code, name) = students
                .iter()
                .find(|student| student.id == mark.student_id)
                .map_or((mark.student_id.as_str(), ""), |student| {
                    (student.external_ref.as_str(), student.full_name.as_str())
                });
            println!("  {code:<14} {name:<28} {}", status_name(mark.status));
        }
        Ok(())
    }
}
