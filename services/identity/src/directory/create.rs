//! Creating districts, schools and classes.

use kernel::auth::{Caller, Role, Target};
use kernel::command::idempotent;
use kernel::event_store::RequestKey;
use lienlac_proto::identity::v1::{
    Class, ClassCreated, District, DistrictCreated, School, SchoolCreated,
};
use uuid::Uuid;

use super::meta;
use crate::Ctx;
use crate::access::{self, SCHOOL_ADMINS};
use crate::error::{AppResult, unique_or};
use crate::events::{class_stream, district_stream, emit, school_stream};

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
    caller.require(&[Role::Operator], &Target::platform())?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            sqlx::query("INSERT INTO districts (id, name, external_ref) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(&new.name)
                .bind(&new.external_ref)
                .execute(&mut *tx)
                .await
                .map_err(|error| {
                    unique_or(error, || {
                        format!(
                            "a district with external_ref {} already exists",
                            new.external_ref
                        )
                    })
                })?;
            let event = DistrictCreated {
                district_id: id.to_string(),
                name: new.name.clone(),
                external_ref: new.external_ref.clone(),
            };
            emit(tx, &district_stream(id), &meta(&by, id, None), &event).await?;
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
    caller.require(&[Role::Operator, Role::DistrictAdmin], &target)?;
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO schools (id, district_id, name, external_ref) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(new.district_id)
            .bind(&new.name)
            .bind(&new.external_ref)
            .execute(&mut *tx)
            .await
            .map_err(|error| {
                unique_or(error, || {
                    format!(
                        "the district already has a school with external_ref {}",
                        new.external_ref
                    )
                })
            })?;
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
            .await?;
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
}

pub(crate) async fn class(
    ctx: &Ctx,
    caller: &Caller,
    request: RequestKey,
    new: NewClass,
) -> AppResult<Class> {
    let target = access::school(&mut *ctx.pool.acquire().await?, new.school_id).await?;
    caller.require(SCHOOL_ADMINS, &target)?;
    let district_id = target.district.unwrap_or_default();
    let by = caller.clone();
    idempotent(&ctx.pool, &request, move |tx| {
        Box::pin(async move {
            let id = Uuid::now_v7();
            sqlx::query(
                "INSERT INTO classes (id, school_id, district_id, name, grade, school_year) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(new.school_id)
            .bind(district_id)
            .bind(&new.name)
            .bind(new.grade)
            .bind(&new.school_year)
            .execute(&mut *tx)
            .await
            .map_err(|error| {
                unique_or(error, || {
                    format!(
                        "the school already has a class {} in {}",
                        new.name, new.school_year
                    )
                })
            })?;
            let event = ClassCreated {
                class_id: id.to_string(),
                school_id: new.school_id.to_string(),
                district_id: district_id.to_string(),
                name: new.name.clone(),
                grade: new.grade,
                school_year: new.school_year.clone(),
            };
            emit(
                tx,
                &class_stream(id),
                &meta(&by, district_id, Some(new.school_id)),
                &event,
            )
            .await?;
            Ok(Class {
                id: id.to_string(),
                school_id: new.school_id.to_string(),
                district_id: district_id.to_string(),
                name: new.name,
                grade: new.grade,
                school_year: new.school_year,
                homeroom_teacher_id: String::new(),
            })
        })
    })
    .await
}
