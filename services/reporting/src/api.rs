//! `lienlac.reporting.v1.ReportingService`: parse and validate, check the caller's
//! roles over the record's scope, hand over to the report.

use std::pin::Pin;

use futures::Stream;
use kernel::access_log;
use kernel::auth::{Caller, Role, Target, caller};
use kernel::error::AppError;
use kernel::grpc::{Check, Violation};
use lienlac_proto::reporting::v1 as pb;
use lienlac_proto::reporting::v1::reporting_service_server::ReportingService;
use time::Date;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::Ctx;
use crate::access;
use crate::read_models::{Model, RebuildRefused};
use crate::reports::{Scope, adoption, class, daily, export, student};
use school::names::names_of;
use school::peers::Reader;
use school::roles::{CLASS_OVERSEERS, DISTRICT_OFFICE, SCHOOL_OVERSEERS};

/// The longest period one report reads.
const MAX_PERIOD_DAYS: i64 = 366;
/// Export files go out in chunks of this size.
const CHUNK_BYTES: usize = 64 * 1024;

pub(crate) struct Reporting {
    pub(crate) ctx: Ctx,
}

fn period(check: &mut Check, from: &str, to: &str) -> (Date, Date) {
    let from = check.date("from_date", from);
    let to = check.date("to_date", to);
    if check.is_ok() && (to < from || (to - from).whole_days() >= MAX_PERIOD_DAYS) {
        check.add(Violation::new(
            "to_date",
            format!("must be on or after from_date and at most {MAX_PERIOD_DAYS} days after it"),
            format!("phải từ from_date trở đi và không quá {MAX_PERIOD_DAYS} ngày sau"),
        ));
    }
    (from, to)
}

/// Exactly one of a school and a district.
fn scope(check: &mut Check, school_id: &str, district_id: &str) -> Option<Scope> {
    let school = check.optional_uuid("school_id", school_id);
    let district = check.optional_uuid("district_id", district_id);
    match (school, district) {
        (Some(school), None) => Some(Scope::School(school)),
        (None, Some(district)) => Some(Scope::District(district)),
        _ => {
            check.add(Violation::new(
                "school_id",
                "give exactly one of school_id and district_id",
                "hãy cho đúng một trong hai: school_id hoặc district_id",
            ));
            None
        }
    }
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::FileChunk, Status>> + Send>>;

#[tonic::async_trait]
impl ReportingService for Reporting {
    async fn get_class_attendance(
        &self,
        request: Request<pb::GetClassAttendanceRequest>,
    ) -> Result<Response<pb::ClassAttendance>, Status> {
        let caller = caller(&request)?;
        let reader = Reader::of(request.metadata())?;
        let r = request.get_ref();
        let mut check = Check::new();
        let class_id = check.uuid("class_id", &r.class_id);
        let (from, to) = period(&mut check, &r.from_date, &r.to_date);
        check.done()?;
        let pool = self.ctx.read_models.queries();
        let class = access::class(&pool, class_id).await?;
        caller.require(CLASS_OVERSEERS, &class.target())?;
        let report =
            class::class_attendance(&pool, (&self.ctx.peers, &reader), &class, from, to).await?;
        let mut students: Vec<Uuid> = report
            .roll_calls
            .iter()
            .flat_map(|roll_call| &roll_call.marks)
            .filter_map(|mark| Uuid::parse_str(&mark.student_id).ok())
            .collect();
        students.sort_unstable();
        students.dedup();
        self.log_reads(
            caller,
            "reporting.GetClassAttendance",
            class.target(),
            &students,
        )
        .await?;
        Ok(Response::new(report))
    }

    async fn get_student_absences(
        &self,
        request: Request<pb::GetStudentAbsencesRequest>,
    ) -> Result<Response<pb::StudentAbsences>, Status> {
        let caller = caller(&request)?;
        let reader = Reader::of(request.metadata())?;
        let r = request.get_ref();
        let mut check = Check::new();
        let student_id = check.uuid("student_id", &r.student_id);
        let (from, to) = period(&mut check, &r.from_date, &r.to_date);
        check.done()?;
        let pool = self.ctx.read_models.queries();
        let target = access::require_student(&pool, caller, student_id, from, to).await?;
        let full_name = names_of(self.ctx.peers.directory(), &reader, &[student_id])
            .await?
            .remove(&student_id)
            .map(|name| name.full_name)
            .unwrap_or_default();
        self.log_reads(
            caller,
            "reporting.GetStudentAbsences",
            target,
            &[student_id],
        )
        .await?;
        let report =
            student::student_absences(&pool, &self.ctx.settings, student_id, full_name, from, to)
                .await?;
        Ok(Response::new(report))
    }

    async fn get_school_daily_summary(
        &self,
        request: Request<pb::GetSchoolDailySummaryRequest>,
    ) -> Result<Response<pb::SchoolDailySummary>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &r.school_id);
        let date = check.date("date", &r.date);
        check.done()?;
        let pool = self.ctx.read_models.queries();
        let school = access::school(&pool, school_id).await?;
        caller.require(SCHOOL_OVERSEERS, &school.target())?;
        Ok(Response::new(
            daily::school_summary(&pool, &school, date).await?,
        ))
    }

    async fn get_district_daily_summary(
        &self,
        request: Request<pb::GetDistrictDailySummaryRequest>,
    ) -> Result<Response<pb::DistrictDailySummary>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &r.district_id);
        let date = check.date("date", &r.date);
        check.done()?;
        let pool = self.ctx.read_models.queries();
        let target = access::district(&pool, district_id).await?;
        caller.require(DISTRICT_OFFICE, &target)?;
        Ok(Response::new(
            daily::district_summary(&pool, district_id, date).await?,
        ))
    }

    async fn get_adoption_report(
        &self,
        request: Request<pb::GetAdoptionReportRequest>,
    ) -> Result<Response<pb::AdoptionReport>, Status> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let mut check = Check::new();
        let scope = scope(&mut check, &r.school_id, &r.district_id);
        let (from, to) = period(&mut check, &r.from_date, &r.to_date);
        check.done()?;
        let Some(scope) = scope else {
            return Err(Status::invalid_argument(
                "give exactly one of school_id and district_id",
            ));
        };
        let pool = self.ctx.read_models.queries();
        match scope {
            Scope::School(id) => {
                let school = access::school(&pool, id).await?;
                caller.require(SCHOOL_OVERSEERS, &school.target())?;
            }
            Scope::District(id) => {
                let target = access::district(&pool, id).await?;
                caller.require(DISTRICT_OFFICE, &target)?;
            }
        }
        let report = adoption::adoption(&pool, &self.ctx.settings, scope, from, to).await?;
        Ok(Response::new(report))
    }

    type ExportAttendanceStream = ChunkStream;

    async fn export_attendance(
        &self,
        request: Request<pb::ExportAttendanceRequest>,
    ) -> Result<Response<Self::ExportAttendanceStream>, Status> {
        let caller = caller(&request)?;
        let reader = Reader::of(request.metadata())?;
        let r = request.get_ref();
        let mut check = Check::new();
        let class_id = check.optional_uuid("class_id", &r.class_id);
        let school_id = check.optional_uuid("school_id", &r.school_id);
        if class_id.is_some() == school_id.is_some() {
            check.add(Violation::new(
                "class_id",
                "give exactly one of class_id and school_id",
                "hãy cho đúng một trong hai: class_id hoặc school_id",
            ));
        }
        let month = check.month("month", &r.month);
        let format = match pb::ExportFormat::try_from(r.format) {
            Ok(format) if format != pb::ExportFormat::Unspecified => format,
            _ => {
                check.add(Violation::new(
                    "format",
                    "must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX",
                    "phải là EXPORT_FORMAT_CSV hoặc EXPORT_FORMAT_XLSX",
                ));
                pb::ExportFormat::Unspecified
            }
        };
        check.done()?;
        let pool = self.ctx.read_models.queries();
        let (sheet, scope) = match (class_id, school_id) {
            (Some(id), _) => {
                let class = access::class(&pool, id).await?;
                caller.require(CLASS_OVERSEERS, &class.target())?;
                let scope = class.target();
                (
                    export::Sheet::Class {
                        id,
                        name: class.name,
                    },
                    scope,
                )
            }
            (_, Some(id)) => {
                let school = access::school(&pool, id).await?;
                caller.require(SCHOOL_OVERSEERS, &school.target())?;
                let scope = school.target();
                (
                    export::Sheet::School {
                        id,
                        name: school.name,
                    },
                    scope,
                )
            }
            (None, None) => return Err(Status::invalid_argument("give a class_id or a school_id")),
        };
        // Names and birth dates as identity shows them to this reader: birth dates
        // only to the school's leaders, the district's administrators and the
        // student's homeroom teacher; the column stays, empty, for the others.
        let peers = (&self.ctx.peers, &reader);
        let file = export::export(&pool, peers, &sheet, r.month.trim(), month, format).await?;
        self.log_reads(caller, "reporting.ExportAttendance", scope, &file.students)
            .await?;
        let chunks: Vec<Result<pb::FileChunk, Status>> = file
            .data
            .chunks(CHUNK_BYTES)
            .enumerate()
            .map(|(index, data)| {
                Ok(pb::FileChunk {
                    file_name: if index == 0 {
                        file.file_name.clone()
                    } else {
                        String::new()
                    },
                    content_type: if index == 0 {
                        file.content_type.to_owned()
                    } else {
                        String::new()
                    },
                    data: data.to_vec(),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    async fn rebuild_projections(
        &self,
        request: Request<pb::RebuildProjectionsRequest>,
    ) -> Result<Response<pb::ProjectionStatus>, Status> {
        let caller = caller(&request)?;
        caller.require(&[Role::Operator], &Target::platform())?;
        let name = request.get_ref().name.trim();
        let Some(model) = Model::parse(name) else {
            let known: Vec<&str> = Model::ALL.iter().map(|model| model.name()).collect();
            return Err(Status::invalid_argument(format!(
                "name: no read model {name:?}; the read models are {}",
                known.join(", ")
            )));
        };
        match self.ctx.read_models.start_rebuild(model).await {
            Ok(_) => {}
            Err(RebuildRefused::UnderWay(generation)) => {
                return Err(Status::failed_precondition(format!(
                    "a rebuild of {name} is already under way (generation {generation}); wait for it to swap"
                )));
            }
            Err(RebuildRefused::Store(error)) => return Err(AppError::from(error).into()),
            Err(RebuildRefused::Other(error)) => return Err(AppError::Unexpected(error).into()),
        }
        let statuses = self.statuses().await?;
        statuses
            .into_iter()
            .find(|status| status.name == name)
            .map(Response::new)
            .ok_or_else(|| Status::internal("internal error"))
    }

    async fn list_projections(
        &self,
        request: Request<pb::ListProjectionsRequest>,
    ) -> Result<Response<pb::ListProjectionsResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(&[Role::Operator], &Target::platform())?;
        Ok(Response::new(pb::ListProjectionsResponse {
            projections: self.statuses().await?,
        }))
    }
}

impl Reporting {
    /// Logs that `caller` read these students' data, each within `scope`.
    async fn log_reads(
        &self,
        caller: &Caller,
        what: &str,
        scope: Target,
        students: &[Uuid],
    ) -> Result<(), Status> {
        let read: Vec<(Uuid, Target)> = students
            .iter()
            .map(|student| (*student, scope.with_student(*student)))
            .collect();
        access_log::record_in(&self.ctx.pool, caller, what, &read)
            .await
            .map_err(AppError::from)?;
        Ok(())
    }

    async fn statuses(&self) -> Result<Vec<pb::ProjectionStatus>, Status> {
        let registrations = self
            .ctx
            .read_models
            .registrations()
            .await
            .map_err(AppError::from)?;
        let mut statuses = Vec::with_capacity(registrations.len());
        for registration in registrations {
            let rebuild_pending = match (
                Model::parse(&registration.name),
                registration.rebuilding_generation,
            ) {
                (Some(model), Some(generation)) => self
                    .ctx
                    .read_models
                    .rebuild_pending(model, generation)
                    .await
                    .unwrap_or_default(),
                _ => 0,
            };
            statuses.push(pb::ProjectionStatus {
                name: registration.name,
                generation: registration.generation,
                rebuilding_generation: registration.rebuilding_generation.unwrap_or_default(),
                rebuild_pending,
                last_swapped_at: registration
                    .last_swapped_at
                    .map(kernel::dates::rfc3339)
                    .unwrap_or_default(),
            });
        }
        Ok(statuses)
    }
}
