//! `lienlac.sync.v1.SyncService`.

use kernel::auth::{Role, Target, caller};
use kernel::grpc::{Check, Violation};
use lienlac_proto::sync::v1 as pb;
use lienlac_proto::sync::v1::sync_service_server::SyncService;
use tonic::{Request, Response, Status};

use crate::Ctx;
use crate::access::{
    self, PUSH_READERS, RUN_DETAIL_READERS, RUN_READERS, RUN_STARTERS, TERM_RESULT_READERS,
};
use crate::export;
use crate::push;
use crate::runs::{self, Mode, NewRun, Scope};
use crate::term_results;

pub(crate) struct Sync {
    pub(crate) ctx: Ctx,
}

impl Sync {
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, Status> {
        Ok(self
            .ctx
            .pool
            .acquire()
            .await
            .map_err(kernel::error::AppError::from)?)
    }
}

#[tonic::async_trait]
impl SyncService for Sync {
    async fn start_sync_run(
        &self,
        request: Request<pb::StartSyncRunRequest>,
    ) -> Result<Response<pb::SyncRun>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let district_id = check.optional_uuid("district_id", &r.district_id);
        let school_id = check.optional_uuid("school_id", &r.school_id);
        let unit_code = r.unit_code.trim().to_owned();
        let named = [
            district_id.is_some(),
            school_id.is_some(),
            !unit_code.is_empty(),
        ];
        if named.iter().filter(|n| **n).count() != 1 {
            check.add(Violation::new(
                "district_id",
                "name one of district_id, school_id or unit_code",
                "cần đúng một trong district_id, school_id hoặc unit_code",
            ));
        }
        let mode = match pb::SyncMode::try_from(r.mode) {
            Ok(pb::SyncMode::Full) => Mode::Full,
            Ok(pb::SyncMode::Incremental) => Mode::Incremental,
            _ => {
                check.add(Violation::new(
                    "mode",
                    "must be full or incremental",
                    "phải là full hoặc incremental",
                ));
                Mode::Full
            }
        };
        let file = r.source_file.trim();
        let source = if file.is_empty() {
            "citydb".to_owned()
        } else {
            let plain = file.len() <= 200
                && (file.ends_with(".zip") || file.ends_with(".xlsx"))
                && !file.starts_with('.')
                && file
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !plain {
                check.add(Violation::new(
                    "source_file",
                    "must be the name of a .zip or .xlsx file in the drop directory (letters, digits, '-', '_', '.')",
                    "phải là tên một tệp .zip hoặc .xlsx trong thư mục nhận (chữ, số, '-', '_', '.')",
                ));
            }
            if file.ends_with(".xlsx") && school_id.is_none() {
                check.add(Violation::new(
                    "school_id",
                    "a workbook holds one school: name the school",
                    "một tệp Excel là của một trường: cần school_id",
                ));
            }
            format!("file:{file}")
        };
        check.done()?;
        let mut conn = self.conn().await?;
        let scope = match (district_id, school_id) {
            (_, Some(school_id)) => {
                let (target, code) = access::school(&mut conn, school_id).await?;
                caller.require(RUN_STARTERS, &target)?;
                let district_id = target.district.unwrap_or_default();
                let (_, unit_code) = access::district(&mut conn, district_id).await?;
                if code.is_empty() {
                    return Err(Status::failed_precondition(
                        "this school has no code of the city database: it is not mirrored",
                    ));
                }
                Scope::School {
                    district_id,
                    school_id,
                    unit_code,
                }
            }
            (Some(district_id), None) => {
                let (target, unit_code) = access::district(&mut conn, district_id).await?;
                caller.require(&[Role::Operator, Role::DistrictAdmin], &target)?;
                Scope::District {
                    district_id,
                    unit_code,
                }
            }
            (None, None) => {
                caller.require(&[Role::Operator], &Target::platform())?;
                Scope::Unit { unit_code }
            }
        };
        drop(conn);
        let new = NewRun {
            scope,
            source,
            mode,
            dry_run: r.dry_run,
            started_by: Some(caller.account_id),
        };
        Ok(Response::new(
            runs::start(&self.ctx, request_key, new).await?,
        ))
    }

    async fn get_sync_run(
        &self,
        request: Request<pb::GetSyncRunRequest>,
    ) -> Result<Response<pb::SyncRun>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let run_id = check.uuid("run_id", &r.run_id);
        if !(0..=10_000).contains(&r.limit) {
            check.add(Violation::new(
                "limit",
                "must be from 1 to 10000",
                "phải từ 1 đến 10000",
            ));
        }
        check.done()?;
        let limit = if r.limit == 0 {
            1_000
        } else {
            i64::from(r.limit)
        };
        let mut conn = self.conn().await?;
        let target = access::run(&mut conn, run_id).await?;
        caller.require(RUN_READERS, &target)?;
        let mut run = runs::read(&mut conn, run_id, limit).await?;
        if !caller.holds(RUN_DETAIL_READERS, &target) {
            run.changes.clear();
            run.row_errors.clear();
        }
        Ok(Response::new(run))
    }

    async fn list_sync_runs(
        &self,
        request: Request<pb::ListSyncRunsRequest>,
    ) -> Result<Response<pb::ListSyncRunsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &r.district_id);
        let school_id = check.optional_uuid("school_id", &r.school_id);
        if !(0..=100).contains(&r.limit) {
            check.add(Violation::new(
                "limit",
                "must be from 1 to 100",
                "phải từ 1 đến 100",
            ));
        }
        check.done()?;
        let limit = if r.limit == 0 { 20 } else { i64::from(r.limit) };
        let mut conn = self.conn().await?;
        let target = match school_id {
            Some(school_id) => {
                let (target, _) = access::school(&mut conn, school_id).await?;
                if target.district != Some(district_id) {
                    return Err(Status::not_found("school not found in this district"));
                }
                target
            }
            None => access::district(&mut conn, district_id).await?.0,
        };
        caller.require(RUN_READERS, &target)?;
        let runs = runs::list(&mut conn, district_id, school_id, limit).await?;
        Ok(Response::new(pb::ListSyncRunsResponse { runs }))
    }

    async fn get_drift_report(
        &self,
        request: Request<pb::GetDriftReportRequest>,
    ) -> Result<Response<pb::DriftReport>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let district_id = check.uuid("district_id", &r.district_id);
        let school_id = check.optional_uuid("school_id", &r.school_id);
        check.done()?;
        let mut conn = self.conn().await?;
        let (target, school) = match school_id {
            Some(school_id) => {
                let (target, code) = access::school(&mut conn, school_id).await?;
                if target.district != Some(district_id) {
                    return Err(Status::not_found("school not found in this district"));
                }
                (target, Some((school_id, code)))
            }
            None => (access::district(&mut conn, district_id).await?.0, None),
        };
        caller.require(RUN_DETAIL_READERS, &target)?;
        Ok(Response::new(
            runs::drift_report(&mut conn, district_id, school).await?,
        ))
    }

    async fn get_push_status(
        &self,
        request: Request<pb::GetPushStatusRequest>,
    ) -> Result<Response<pb::PushStatus>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let school_id = check.uuid("school_id", &r.school_id);
        let (first_day, _) = check.month("month", &r.month);
        check.done()?;
        let mut conn = self.conn().await?;
        let (target, _) = access::school(&mut conn, school_id).await?;
        caller.require(PUSH_READERS, &target)?;
        let school_year = school::dates::school_year_of(first_day);
        Ok(Response::new(
            push::status::of_school(&mut conn, school_id, &r.month, &school_year).await?,
        ))
    }

    async fn import_term_results(
        &self,
        request: Request<pb::ImportTermResultsRequest>,
    ) -> Result<Response<pb::TermResultsImport>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let request_key = check.request_key(&caller, &r.request_id, &r);
        let school_id = check.uuid("school_id", &r.school_id);
        term(&mut check, r.term);
        check.done()?;
        let (target, _) = access::school(&mut *self.conn().await?, school_id).await?;
        caller.require(RUN_STARTERS, &target)?;
        Ok(Response::new(
            term_results::import(&self.ctx, request_key, school_id, r.term).await?,
        ))
    }

    async fn get_term_results(
        &self,
        request: Request<pb::GetTermResultsRequest>,
    ) -> Result<Response<pb::ClassTermResults>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let class_id = check.uuid("class_id", &r.class_id);
        term(&mut check, r.term);
        check.done()?;
        let mut conn = self.conn().await?;
        let (target, school_year) = access::class(&mut conn, class_id).await?;
        caller.require(TERM_RESULT_READERS, &target)?;
        Ok(Response::new(
            term_results::of_class(&self.ctx, class_id, &school_year, r.term).await?,
        ))
    }

    async fn export_sync_run(
        &self,
        request: Request<pb::ExportSyncRunRequest>,
    ) -> Result<Response<pb::SyncRunExport>, Status> {
        let caller = caller(&request)?.clone();
        let r = request.into_inner();
        let mut check = Check::new();
        let run_id = check.uuid("run_id", &r.run_id);
        let format = match pb::ExportFormat::try_from(r.format) {
            Ok(pb::ExportFormat::Csv) => export::Format::Csv,
            Ok(pb::ExportFormat::Json) => export::Format::Json,
            _ => {
                check.add(Violation::new(
                    "format",
                    "must be CSV or JSON",
                    "phải là CSV hoặc JSON",
                ));
                export::Format::Csv
            }
        };
        check.done()?;
        let mut conn = self.conn().await?;
        caller.require(RUN_DETAIL_READERS, &access::run(&mut conn, run_id).await?)?;
        let run = runs::read(&mut conn, run_id, i64::MAX).await?;
        Ok(Response::new(export::file(&run, format)?))
    }
}

/// A term: 1 (the first semester) or 2 (the school year's end).
fn term(check: &mut Check, term: i32) {
    if !matches!(term, 1 | 2) {
        check.add(Violation::new("term", "must be 1 or 2", "phải là 1 hoặc 2"));
    }
}
