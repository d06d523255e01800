//! `lienlac.attendance.v1.AttendanceService`: parse and validate, find the caller,
//! hand over to the use case.

use kernel::auth::caller;
use kernel::grpc::{Check, Violation};
use lienlac_proto::attendance::v1 as pb;
use lienlac_proto::attendance::v1::attendance_service_server::AttendanceService;
use tonic::{Request, Response, Status};

use crate::Ctx;
use crate::calendar;
use crate::leaves;
use crate::roll_calls::{RollCallKey, StudentMark, commands, missing, read};

pub(crate) struct Attendance {
    pub(crate) ctx: Ctx,
}

fn key(check: &mut Check, class_id: &str, date: &str, session: i32) -> RollCallKey {
    let class_id = check.uuid("class_id", class_id);
    let date = check.date("date", date);
    let session = match pb::Session::try_from(session) {
        Ok(session) if session != pb::Session::Unspecified => session,
        _ => {
            check.add(Violation::new(
                "session",
                "must be SESSION_MORNING or SESSION_AFTERNOON",
                "phải là buổi sáng (SESSION_MORNING) hoặc buổi chiều (SESSION_AFTERNOON)",
            ));
            pb::Session::Unspecified
        }
    };
    RollCallKey {
        class_id,
        date,
        session,
    }
}

fn status(check: &mut Check, field: &str, value: i32) -> pb::AttendanceStatus {
    match pb::AttendanceStatus::try_from(value) {
        Ok(status) if status != pb::AttendanceStatus::Unspecified => status,
        _ => {
            check.add(Violation::new(
                field,
                "must be one of the listed statuses",
                "phải là một trong các trạng thái cho phép",
            ));
            pb::AttendanceStatus::Unspecified
        }
    }
}

fn month(check: &mut Check, value: &str) -> String {
    check.month("month", value);
    value.trim().to_owned()
}

fn note(check: &mut Check, field: &str, value: &str) -> String {
    if let Err(violation) = kernel::grpc::printable(field, value) {
        check.add(violation);
    } else if value.chars().count() > 200 {
        check.add(Violation::new(
            field,
            "must be at most 200 characters",
            "không được dài quá 200 ký tự",
        ));
    }
    value.trim().to_owned()
}

/// The most marks one roll call lists (a class is at most about 50 students).
const MAX_MARKS: usize = 200;

#[tonic::async_trait]
impl AttendanceService for Attendance {
    async fn submit_roll_call(
        &self,
        request: Request<pb::SubmitRollCallRequest>,
    ) -> Result<Response<pb::RollCall>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let key = key(&mut check, &r.class_id, &r.date, r.session);
        let mut marks: Vec<StudentMark> = Vec::with_capacity(r.marks.len());
        let mut listed = std::collections::HashSet::new();
        let readable = check.at_most("marks", r.marks.len(), MAX_MARKS);
        for mark in r.marks.iter().take(if readable { MAX_MARKS } else { 0 }) {
            let student_id = check.uuid("marks.student_id", &mark.student_id);
            if !listed.insert(student_id) {
                check.add(Violation::new(
                    "marks.student_id",
                    format!("{student_id} is listed twice"),
                    format!("{student_id} bị liệt kê hai lần"),
                ));
            }
            let status = status(&mut check, "marks.status", mark.status);
            let note = note(&mut check, "marks.note", &mark.note);
            marks.push(StudentMark {
                student_id,
                status,
                note,
                leave_id: None,
            });
        }
        let taken_at = if r.taken_at.trim().is_empty() {
            None
        } else {
            match time::OffsetDateTime::parse(
                r.taken_at.trim(),
                &time::format_description::well_known::Rfc3339,
            ) {
                Ok(at) if at <= time::OffsetDateTime::now_utc() + time::Duration::minutes(5) => {
                    Some(at)
                }
                Ok(_) => {
                    check.add(Violation::new(
                        "taken_at",
                        "must not be in the future",
                        "không được là thời điểm trong tương lai",
                    ));
                    None
                }
                Err(_) => {
                    check.add(Violation::new(
                        "taken_at",
                        "must be an RFC 3339 time",
                        "phải là thời điểm theo RFC 3339",
                    ));
                    None
                }
            }
        };
        check.done()?;
        let submission = commands::Submission {
            key,
            marks,
            taken_at,
        };
        Ok(Response::new(
            commands::submit(&self.ctx, &caller, request_key, submission).await?,
        ))
    }

    async fn get_roll_call(
        &self,
        request: Request<pb::GetRollCallRequest>,
    ) -> Result<Response<pb::RollCall>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let key = key(&mut check, &r.class_id, &r.date, r.session);
        check.done()?;
        Ok(Response::new(read::get(&self.ctx, &caller, key).await?))
    }

    async fn correct_mark(
        &self,
        request: Request<pb::CorrectMarkRequest>,
    ) -> Result<Response<pb::RollCall>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let key = key(&mut check, &r.class_id, &r.date, r.session);
        let student_id = check.uuid("student_id", &r.student_id);
        let status = status(&mut check, "status", r.status);
        let reason = check.text("reason", &r.reason, 500);
        let note = note(&mut check, "note", &r.note);
        check.done()?;
        let correction = commands::Correction {
            key,
            mark: StudentMark {
                student_id,
                status,
                note,
                leave_id: None,
            },
            reason,
        };
        Ok(Response::new(
            commands::correct(&self.ctx, &caller, request_key, correction).await?,
        ))
    }

    async fn declare_closure(
        &self,
        request: Request<pb::DeclareClosureRequest>,
    ) -> Result<Response<pb::Closure>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let school_id = check.uuid("school_id", &r.school_id);
        let from = check.date("from_date", &r.from_date);
        let to = check.date("to_date", &r.to_date);
        let reason = check.text("reason", &r.reason, 500);
        if check.is_ok() && to < from {
            check.add(Violation::new(
                "to_date",
                "must not be before from_date",
                "không được trước from_date",
            ));
        }
        check.done()?;
        let closure = calendar::NewClosure {
            school_id,
            from,
            to,
            reason,
        };
        Ok(Response::new(
            calendar::declare_closure(&self.ctx, &caller, request_key, closure).await?,
        ))
    }

    async fn close_month(
        &self,
        request: Request<pb::CloseMonthRequest>,
    ) -> Result<Response<pb::MonthSummary>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let class_id = check.uuid("class_id", &r.class_id);
        let month = month(&mut check, &r.month);
        check.done()?;
        Ok(Response::new(
            calendar::close_month(&self.ctx, &caller, request_key, class_id, month).await?,
        ))
    }

    async fn reopen_month(
        &self,
        request: Request<pb::ReopenMonthRequest>,
    ) -> Result<Response<pb::MonthSummary>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let class_id = check.uuid("class_id", &r.class_id);
        let month = month(&mut check, &r.month);
        let reason = check.text("reason", &r.reason, 500);
        check.done()?;
        Ok(Response::new(
            calendar::reopen_month(&self.ctx, &caller, request_key, class_id, month, reason)
                .await?,
        ))
    }

    async fn list_missing_roll_calls(
        &self,
        request: Request<pb::ListMissingRollCallsRequest>,
    ) -> Result<Response<pb::ListMissingRollCallsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &r.school_id);
        let key = key(&mut check, &school_id.to_string(), &r.date, r.session);
        check.done()?;
        Ok(Response::new(
            missing::missing(&self.ctx, &caller, school_id, key.date, key.session).await?,
        ))
    }

    async fn request_leave(
        &self,
        request: Request<pb::RequestLeaveRequest>,
    ) -> Result<Response<pb::LeaveRequest>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let student_id = check.uuid("student_id", &r.student_id);
        let from = check.date("from_date", &r.from_date);
        let to = check.date("to_date", &r.to_date);
        let reason = check.text("reason", &r.reason, 500);
        if check.is_ok() && (to < from || to - from > time::Duration::days(30)) {
            check.add(Violation::new(
                "to_date",
                "must be from from_date to 30 days after it",
                "phải từ from_date đến tối đa 30 ngày sau đó",
            ));
        }
        let mut sessions = Vec::new();
        check.at_most("sessions", r.sessions.len(), 2);
        for value in r.sessions.iter().take(2) {
            match pb::Session::try_from(*value) {
                Ok(session) if session != pb::Session::Unspecified => {
                    if !sessions.contains(&session) {
                        sessions.push(session);
                    }
                }
                _ => check.add(Violation::new(
                    "sessions",
                    "must be SESSION_MORNING or SESSION_AFTERNOON",
                    "phải là buổi sáng hoặc buổi chiều",
                )),
            }
        }
        if sessions.is_empty() {
            sessions = vec![pb::Session::Morning, pb::Session::Afternoon];
        }
        check.done()?;
        let new = leaves::NewLeave {
            student_id,
            from,
            to,
            sessions,
            reason,
        };
        Ok(Response::new(
            leaves::request(&self.ctx, &caller, request_key, new).await?,
        ))
    }

    async fn decide_leave(
        &self,
        request: Request<pb::DecideLeaveRequest>,
    ) -> Result<Response<pb::LeaveRequest>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let leave_id = check.uuid("leave_id", &r.leave_id);
        let comment = note(&mut check, "comment", &r.comment);
        check.done()?;
        Ok(Response::new(
            leaves::decide(
                &self.ctx,
                &caller,
                request_key,
                leave_id,
                r.approve,
                comment,
            )
            .await?,
        ))
    }

    async fn list_leave_requests(
        &self,
        request: Request<pb::ListLeaveRequestsRequest>,
    ) -> Result<Response<pb::ListLeaveRequestsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let whose = match (r.class_id.is_empty(), r.student_id.is_empty()) {
            (false, true) => leaves::Whose::Class(check.uuid("class_id", &r.class_id)),
            (true, false) => leaves::Whose::Student(check.uuid("student_id", &r.student_id)),
            _ => {
                check.add(Violation::new(
                    "class_id",
                    "give either class_id or student_id",
                    "cần class_id hoặc student_id (một trong hai)",
                ));
                leaves::Whose::Class(uuid::Uuid::nil())
            }
        };
        let status = pb::LeaveStatus::try_from(r.status).unwrap_or_else(|_| {
            check.add(Violation::new(
                "status",
                "must be one of the listed statuses",
                "phải là một trong các trạng thái cho phép",
            ));
            pb::LeaveStatus::Unspecified
        });
        check.done()?;
        let leave_requests = leaves::list(&self.ctx, &caller, whose, status).await?;
        Ok(Response::new(pb::ListLeaveRequestsResponse {
            leave_requests,
        }))
    }

    async fn export_student_record(
        &self,
        request: Request<pb::ExportStudentRecordRequest>,
    ) -> Result<Response<pb::StudentRecord>, Status> {
        let caller = caller(&request)?.clone();
        let mut check = Check::new();
        let student = check.uuid("student_id", &request.get_ref().student_id);
        check.done()?;
        Ok(Response::new(
            crate::student_record::export(&self.ctx, &caller, student).await?,
        ))
    }

    async fn rebuild_write_model(
        &self,
        request: Request<pb::RebuildWriteModelRequest>,
    ) -> Result<Response<pb::WriteModelRebuilt>, Status> {
        let caller = caller(&request)?;
        Ok(Response::new(
            crate::write_model::rebuild(&self.ctx, caller).await?,
        ))
    }
}
