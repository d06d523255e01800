//! Who read a student's personal data: every service that serves it logs the
//! reads in its own schema (kernel/src/access_log.rs) and answers for them through
//! `lienlac.privacy.v1.ReadLog`, for the principal of the student's school and the
//! district's administrators.

pub use futures::future::BoxFuture;
use kernel::access_log::{self, DataAccess};
use kernel::auth::{Role, Target, caller};
use kernel::error::{AppError, AppResult};
use kernel::grpc::{Check, Violation};
use lienlac_proto::privacy::v1 as pb;
use lienlac_proto::privacy::v1::read_log_server::ReadLog;
use sqlx::PgPool;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

/// Who reads the log of a student's reads: the principal of their school and the
/// district's administrators, and the student's guardians (the data subject's
/// right to know who processed their data).
pub const LOG_READERS: &[Role] = &[Role::Principal, Role::DistrictAdmin, Role::Guardian];

/// The longest period one request covers.
const MAX_DAYS: i64 = 366;

/// Where a student is, as the serving service knows it.
pub trait StudentScope: Send + Sync + 'static {
    /// The student's school (or class) target; NOT_FOUND for a student it does not
    /// know.
    fn student(&self, student: Uuid) -> BoxFuture<'_, AppResult<Target>>;
}

pub struct ReadLogService<S> {
    pool: PgPool,
    service: &'static str,
    scope: S,
}

impl<S: StudentScope> ReadLogService<S> {
    /// The log in `pool`'s schema, of the service named `service`.
    pub fn new(pool: PgPool, service: &'static str, scope: S) -> Self {
        Self {
            pool,
            service,
            scope,
        }
    }
}

#[tonic::async_trait]
impl<S: StudentScope> ReadLog for ReadLogService<S> {
    async fn list_reads(
        &self,
        request: Request<pb::ListDataAccessRequest>,
    ) -> Result<Response<pb::ListDataAccessResponse>, Status> {
        let caller = caller(&request)?;
        let (student, from, to) = period(request.get_ref())?;
        let target = self.scope.student(student).await?;
        caller.require(LOG_READERS, &target)?;
        let reads = access_log::reads_of(&self.pool, student, from, to)
            .await
            .map_err(AppError::from)?;
        Ok(Response::new(pb::ListDataAccessResponse {
            reads: reads
                .into_iter()
                .map(|read| to_proto(self.service, read))
                .collect(),
        }))
    }
}

/// The student and the instants a request's school dates span.
pub fn period(
    request: &pb::ListDataAccessRequest,
) -> Result<(Uuid, OffsetDateTime, OffsetDateTime), Status> {
    let mut check = Check::new();
    let student = check.uuid("student_id", &request.student_id);
    let from = check.date("from_date", &request.from_date);
    let to = check.date("to_date", &request.to_date);
    if check.is_ok() && (to < from || (to - from).whole_days() >= MAX_DAYS) {
        check.add(Violation::new(
            "to_date",
            format!("must be on or after from_date and within {MAX_DAYS} days of it"),
            format!("phải từ from_date trở đi và trong vòng {MAX_DAYS} ngày"),
        ));
    }
    check.done()?;
    let until = crate::dates::local_day_start(to.next_day().unwrap_or(to));
    Ok((
        student,
        crate::dates::local_day_start(from),
        until - time::Duration::nanoseconds(1),
    ))
}

pub fn to_proto(service: &str, read: DataAccess) -> pb::DataAccess {
    pb::DataAccess {
        service: service.to_owned(),
        read_at: kernel::dates::rfc3339(read.read_at),
        account_id: read.account_id.to_string(),
        person_id: read.person_id.map(|id| id.to_string()).unwrap_or_default(),
        roles: read.roles,
        what: read.what,
    }
}
