//! `lienlac leave`: a guardian asks for a child's leave, a homeroom teacher or the
//! principal decides, and both list what was asked.

use lienlac_proto::attendance::v1::attendance_service_client::AttendanceServiceClient;
use lienlac_proto::attendance::v1::{self as att, LeaveStatus, Session};
use lienlac_proto::identity::v1 as id;

use crate::credentials::Credentials;
use crate::directory::Directory;
use crate::{dates, session};

pub(crate) struct Leaves {
    pub(crate) url: String,
    pub(crate) json: bool,
}

/// The signed-in guardian's only child, when a student is not named.
async fn own_child(credentials: &Credentials) -> anyhow::Result<String> {
    let me = Directory::connect(credentials).await?.who_am_i().await?;
    let children: Vec<String> = me
        .roles
        .into_iter()
        .filter(|role| role.role == id::Role::Guardian as i32)
        .map(|role| role.scope_id)
        .collect();
    match children.as_slice() {
        [child] => Ok(child.clone()),
        [] => anyhow::bail!("name the student with --student"),
        _ => anyhow::bail!("you are the guardian of several students: name one with --student"),
    }
}

fn status_name(status: i32) -> &'static str {
    match LeaveStatus::try_from(status) {
        Ok(LeaveStatus::Pending) => "pending",
        Ok(LeaveStatus::Approved) => "approved",
        Ok(LeaveStatus::Rejected) => "rejected",
        _ => "?",
    }
}

impl Leaves {
    async fn client(&self) -> anyhow::Result<AttendanceServiceClient<tonic::transport::Channel>> {
        Ok(AttendanceServiceClient::new(
            session::connect(&self.url).await?,
        ))
    }

    pub(crate) async fn request(
        &self,
        student: Option<String>,
        from: String,
        to: Option<String>,
        sessions: Vec<Session>,
        reason: String,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let student_id = match student {
            Some(student) => student,
            None => own_child(&credentials).await?,
        };
        let request = att::RequestLeaveRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            student_id,
            to_date: to.unwrap_or_else(|| from.clone()),
            from_date: from,
            sessions: sessions.into_iter().map(|s| s as i32).collect(),
            reason,
        };
        let leave = self
            .client()
            .await?
            .request_leave(session::authorised(request, &credentials)?)
            .await?
            .into_inner();
        self.print(&[leave])
    }

    pub(crate) async fn decide(
        &self,
        leave_id: String,
        approve: bool,
        comment: String,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let request = att::DecideLeaveRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            leave_id,
            approve,
            comment,
        };
        let leave = self
            .client()
            .await?
            .decide_leave(session::authorised(request, &credentials)?)
            .await?
            .into_inner();
        self.print(&[leave])
    }

    pub(crate) async fn list(
        &self,
        class: Option<String>,
        student: Option<String>,
        status: LeaveStatus,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let (class_id, student_id) = match (class, student) {
            (Some(class), _) => (
                Directory::connect(&credentials)
                    .await?
                    .class_id(&class, &dates::today())
                    .await?,
                String::new(),
            ),
            (None, Some(student)) => (String::new(), student),
            (None, None) => (String::new(), own_child(&credentials).await?),
        };
        let request = att::ListLeaveRequestsRequest {
            class_id,
            student_id,
            status: status as i32,
        };
        let leaves = self
            .client()
            .await?
            .list_leave_requests(session::authorised(request, &credentials)?)
            .await?
            .into_inner()
            .leave_requests;
        if self.json {
            return self.print(&leaves);
        }
        let mut ids: Vec<String> = leaves.iter().map(|l| l.student_id.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        let names = Directory::connect(&credentials)
            .await?
            .student_names(&ids)
            .await?;
        self.print_named(&leaves, &names)
    }

    fn print(&self, leaves: &[att::LeaveRequest]) -> anyhow::Result<()> {
        self.print_named(leaves, &std::collections::HashMap::new())
    }

    /// The leaves, each student by name and code where `names` has them.
    fn print_named(
        &self,
        leaves: &[att::LeaveRequest],
        names: &std::collections::HashMap<String, String>,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(leaves)?);
            return Ok(());
        }
        if leaves.is_empty() {
            println!("no leave requests");
        }
        for leave in leaves {
            let sessions = if leave.sessions.is_empty() {
                "all day".to_owned()
            } else {
                leave
                    .sessions
                    .iter()
                    .map(|session| dates::session_name(*session))
                    .collect::<Vec<_>>()
                    .join("+")
            };
            println!(
                "{}  {:<9} {} to {} ({sessions})  {}\n  {}{}",
                leave.id,
                status_name(leave.status),
                leave.from_date,
                leave.to_date,
                names
                    .get(&leave.student_id)
                    .cloned()
                    .unwrap_or_else(|| format!("student {}", leave.student_id)),
                leave.reason,
                if leave.comment.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", leave.comment)
                }
            );
        }
        Ok(())
    }
}

/// `pending`, `approved` or `rejected`.
pub(crate) fn status(text: &str) -> Result<LeaveStatus, String> {
    match text {
        "pending" => Ok(LeaveStatus::Pending),
        "approved" => Ok(LeaveStatus::Approved),
        "rejected" => Ok(LeaveStatus::Rejected),
        other => Err(format!("{other:?} is not pending, approved or rejected")),
    }
}
