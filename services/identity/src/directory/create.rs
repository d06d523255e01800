//! Creating districts, schools and classes.

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{Class, District, School};
use lienlac_proto::identity::v2::{ClassCreated, DistrictCreated, SchoolCreated};
use uuid::Uuid;

use super::meta;
use crate::Ctx;
use crate::access::{self, DIRECTORY_WRITERS};
use crate::error::{AppResult, projected_unique_or};
use crate::events::{class_stream, district_stream, school_stream};
use crate::write_model::emit;

pub(crate) struct NewDistrict {
    pub name: String,
    pub external_ref: String,
}

pub(crate) async fn district(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewDistrict,
) -> AppResult<District> {
    caller.require(&[Role::Operator, Role::Mirror], &Target::platform())?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let event = DistrictCreated {
                district_id: id.to_string(),
                name: new.name.clone(),
                external_ref: new.external_ref.clone(),
            };
            emit(tx, &district_stream(id), &meta(&by, id, None), &event)
                .await
                .map_err(|error| {
                    projected_unique_or(error, || {
                        format!(
                            "a district with external_ref {} already exists",
                            new.external_ref
                        )
                    })
                })?;
            Ok(District {
                id: id.to_string(),
                name: new.name,
                external_ref: new.external_ref,
            })
        })
    })
    .await
}

pub(crate) struct NewSchool {
    pub district_id: Uuid,
    pub name: String,
    pub external_ref: String,
}

pub(crate) async fn school(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewSchool,
) -> AppResult<School> {
    let target = access::district(&mut *ctx.pool.acquire().await?, new.district_id).await?;
    caller.require(
        &[Role::Operator, Role::DistrictAdmin, Role::Mirror],
        &target,
    )?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let event = SchoolCreated {
                school_id: id.to_string(),
                district_id: new.district_id.to_string(),
                name: new.name.clone(),
                external_ref: new.external_ref.clone(),
            };
            emit(
                tx,
                &school_stream(id),
                &meta(&by, new.district_id, Some(id)),
                &event,
            )
            .await
            .map_err(|error| {
                projected_unique_or(error, || {
                    format!(
                        "the district already has a school with external_ref {}",
                        new.external_ref
                    )
                })
            })?;
            Ok(School {
                id: id.to_string(),
                district_id: new.district_id.to_string(),
                name: new.name,
                external_ref: new.external_ref,
            })
        })
    })
    .await
}

pub(crate) struct NewClass {
    pub school_id: Uuid,
    pub name: String,
    pub grade: i32,
    pub school_year: String,
    pub external_ref: Option<String>,
}

pub(crate) async fn class(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewClass,
) -> AppResult<Class> {
    let target = access::school(&mut *ctx.pool.acquire().await?, new.school_id).await?;
    caller.require(DIRECTORY_WRITERS, &target)?;
    let district_id = target.district.unwrap_or_default();
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            let event = ClassCreated {
                class_id: id.to_string(),
                school_id: new.school_id.to_string(),
                district_id: district_id.to_string(),
                name: new.name.clone(),
                grade: new.grade,
                school_year: new.school_year.clone(),
                external_ref: new.external_ref.clone().unwrap_or_default(),
            };
            emit(
                tx,
                &class_stream(id),
                &meta(&by, district_id, Some(new.school_id)),
                &event,
            )
            .await
            .map_err(|error| {
                projected_unique_or(error, || {
                    match &new.external_ref {
                        Some(code) => format!(
                            "the school already has a class {} in {} or a class with external_ref {code}",
                            new.name, new.school_year
                        ),
                        None => format!(
                            "the school already has a class {} in {}",
                            new.name, new.school_year
                        ),
                    }
                })
            })?;
            Ok(Class {
                id: id.to_string(),
                school_id: new.school_id.to_string(),
                district_id: district_id.to_string(),
                name: new.name,
                grade: new.grade,
                school_year: new.school_year,
                homeroom_teacher_id: String::new(),
                external_ref: new.external_ref.unwrap_or_default(),
            })
        })
    })
    .await
}
