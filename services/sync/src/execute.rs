//! Carrying out a sync run: for its district's office and for each school, read
//! the source, normalise, compare with what identity exports, record the plan,
//! and (unless a dry run) apply it (apply.rs). A school's plan is made afresh on
//! each pass, so a run taken over from a replica that died finishes what is left.

use std::collections::HashMap;

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use school::peers;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Ctx;
use crate::apply::Applier;
use crate::normalise;
use crate::plan::{self, Action, Change};
use crate::runs::{self, RunRow};
use crate::source::reader::Source;
use crate::source::{RawPerson, RawSchool, RawUnit, RowError, SourcePerson};
use crate::source::{oneroster, xlsx};

/// What a pass found out of the way: stopped by a shutdown.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
pub(crate) struct Stopped;

pub(crate) async fn run(ctx: &Ctx, run: &RunRow, stop: &CancellationToken) -> anyhow::Result<()> {
    let mirror = ctx
        .mirror
        .as_ref()
        .context("no service secret is configured")?;
    let reader = mirror.reader().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let source = open(ctx, run).await?;
    let school_year = school::dates::school_year_of(school::dates::local_today());
    let mut applier = Applier::new(ctx, &reader, run);

    // Where the change feed is before the source is read: what changes from
    // here on is the next incremental run's.
    let cursor: Option<i64> =
        sqlx::query_scalar("SELECT last_seq FROM sync_cursors WHERE unit_code = $1")
            .bind(&run.unit_code)
            .fetch_optional(&ctx.pool)
            .await?;
    let start = source
        .start(
            &run.unit_code,
            cursor.map(|c| c.max(0) as u64),
            run.mode == "incremental",
        )
        .await?;

    // A dry run of a unit that is no district yet plans the district with its office.
    let (district_id, unmade_district) = match run.district_id {
        Some(district) => (Some(district), None),
        None => district_of_unit(ctx, start.unit.clone(), &mut applier, run).await?,
    };
    let held_district = match district_id {
        Some(district) => Some(
            peers::directory(&ctx.identity)
                .export_district(reader.request(id::ExportDistrictRequest {
                    district_id: district.to_string(),
                }))
                .await
                .map_err(|s| anyhow::anyhow!("identity's ExportDistrict: {}", s.message()))?
                .into_inner(),
        ),
        None => None,
    };
    applier.district = district_id;

    let only_school: Option<String> = match run.school_id {
        Some(school_id) => Some(
            sqlx::query_scalar("SELECT external_ref FROM schools WHERE id = $1")
                .bind(school_id)
                .fetch_one(&ctx.pool)
                .await?,
        ),
        None => None,
    };
    let schools: Vec<RawSchool> = source
        .schools(&run.unit_code)
        .await?
        .into_iter()
        .filter(|s| only_school.as_ref().is_none_or(|code| &s.code == code))
        .filter(|s| {
            start
                .touched
                .as_ref()
                .is_none_or(|touched| touched.contains(&s.code))
        })
        .collect();

    let office_touched = start
        .touched
        .as_ref()
        .is_none_or(|touched| touched.contains(""));
    if run.school_id.is_none() && office_touched {
        let office = source.office_staff(&run.unit_code).await?;
        let held_staff = held_district
            .as_ref()
            .map(|d| d.staff.as_slice())
            .unwrap_or_default();
        let (office_changes, mut errors) = office_plan(office, held_staff);
        errors.extend(source.errors());
        let changes: Vec<Change> = unmade_district.into_iter().chain(office_changes).collect();
        let seqs = runs::record_plan(
            &mut *ctx.pool.acquire().await?,
            run.id,
            "",
            &changes,
            &errors,
        )
        .await?;
        if !run.dry_run {
            applier
                .apply("", None, &changes, &seqs, HashMap::new(), stop)
                .await?;
        }
    }

    let held_schools: HashMap<String, String> = held_district
        .map(|d| {
            d.schools
                .into_iter()
                .map(|s| (s.external_ref, s.id))
                .collect()
        })
        .unwrap_or_default();
    for raw_school in schools {
        if stop.is_cancelled() {
            return Err(Stopped.into());
        }
        runs::renew(ctx, run.id).await?;
        let code = raw_school.code.clone();
        let raw = source.school(raw_school, &school_year).await?;
        let (normalised, mut errors) = normalise::school(raw, school::dates::local_today());
        let (mut changes, held) = match held_schools.get(&code) {
            Some(school_id) => {
                let held = peers::directory(&ctx.identity)
                    .export_school(reader.request(id::ExportSchoolRequest {
                        school_id: school_id.clone(),
                        school_year: school_year.clone(),
                    }))
                    .await
                    .map_err(|s| anyhow::anyhow!("identity's ExportSchool: {}", s.message()))?
                    .into_inner();
                (Vec::new(), Some(held))
            }
            None => (
                vec![Change {
                    action: Action::CreateSchool {
                        name: normalised.name.clone(),
                    },
                    external_ref: code.clone(),
                    class_ref: String::new(),
                    version: 1,
                    detail: normalised.name.clone(),
                }],
                None,
            ),
        };
        let mut held = held;
        if let Some(district) = district_id {
            let export = held.get_or_insert_with(Default::default);
            let others = guardians_elsewhere(ctx, &reader, district, &normalised, export).await?;
            export.guardians.extend(others);
        }
        let (school_changes, plan_errors) = plan::rules::plan(
            &normalised,
            &held.clone().unwrap_or_default(),
            source.complete(),
        );
        let drift = plan::drift::drift(
            &normalised,
            &held.clone().unwrap_or_default(),
            &school_changes,
        );
        runs::record_drift(&mut *ctx.pool.acquire().await?, run.id, &code, &drift).await?;
        changes.extend(school_changes);
        errors.extend(plan_errors);
        source.name_columns(&mut errors);
        let seqs = runs::record_plan(
            &mut *ctx.pool.acquire().await?,
            run.id,
            &code,
            &changes,
            &errors,
        )
        .await?;
        if !run.dry_run {
            let known = held.map(|h| known_ids(&h)).unwrap_or_default();
            let school_id = held_schools.get(&code).cloned();
            applier
                .apply(&code, school_id, &changes, &seqs, known, stop)
                .await?;
        }
    }
    if let Some(last_seq) = start.last_seq
        && !run.dry_run
        && run.school_id.is_none()
    {
        sqlx::query(
            "INSERT INTO sync_cursors (unit_code, last_seq) VALUES ($1, $2) \
             ON CONFLICT (unit_code) DO UPDATE SET last_seq = greatest(sync_cursors.last_seq, $2), updated_at = now()",
        )
        .bind(&run.unit_code)
        .bind(last_seq as i64)
        .execute(&ctx.pool)
        .await?;
    }
    Ok(())
}

/// The run's source: the city database, or the file it names in the drop directory.
async fn open<'a>(ctx: &'a Ctx, run: &RunRow) -> anyhow::Result<Source<'a>> {
    match run.source.strip_prefix("file:") {
        None => Ok(Source::CityDb(
            ctx.citydb
                .as_deref()
                .context("no city database is configured")?,
        )),
        Some(name) => {
            let path = ctx.drop_dir.join(name);
            let bytes = tokio::fs::read(&path)
                .await
                .with_context(|| format!("reading {name} from the drop directory"))?;
            let year = school::dates::school_year_of(school::dates::local_today());
            let package = if name.ends_with(".xlsx") {
                // A workbook is one school's: the run's.
                let school_id = run
                    .school_id
                    .context("a workbook holds one school: start a run of the school")?;
                let (code, school_name): (String, String) =
                    sqlx::query_as("SELECT external_ref, name FROM schools WHERE id = $1")
                        .bind(school_id)
                        .fetch_one(&ctx.pool)
                        .await?;
                let school = RawSchool {
                    code,
                    name: school_name,
                    unit_code: run.unit_code.clone(),
                };
                let (data, errors) = xlsx::read(&bytes, school, &year)?;
                oneroster::Package {
                    unit: None,
                    schools: vec![data],
                    office_staff: Vec::new(),
                    complete: true,
                    errors,
                    column_names: Some(xlsx::column_of),
                }
            } else {
                oneroster::read(&bytes, &year)?
            };
            Ok(Source::Package {
                name: name.to_owned(),
                package,
            })
        }
    }
}

/// The guardians the school's source names whom the school's export lacks but
/// the district has: parents of a child at another school, linked, not
/// registered twice.
async fn guardians_elsewhere(
    ctx: &Ctx,
    reader: &school::peers::Reader,
    district: Uuid,
    source: &crate::source::SourceSchool,
    held: &id::SchoolExport,
) -> anyhow::Result<Vec<id::Person>> {
    let known: std::collections::HashSet<&str> = held
        .guardians
        .iter()
        .map(|g| g.external_ref.as_str())
        .collect();
    let missing: Vec<String> = source
        .guardians
        .keys()
        .filter(|code| !known.contains(code.as_str()))
        .cloned()
        .collect();
    let mut found = Vec::new();
    for codes in missing.chunks(1_000) {
        let people = peers::directory(&ctx.identity)
            .find_people_by_ref(reader.request(id::FindPeopleByRefRequest {
                district_id: district.to_string(),
                kind: id::PersonKind::Guardian as i32,
                external_refs: codes.to_vec(),
            }))
            .await
            .map_err(|s| anyhow::anyhow!("identity's FindPeopleByRef: {}", s.message()))?
            .into_inner()
            .people;
        found.extend(people);
    }
    Ok(found)
}

/// The district of a run of a unit: found by its code, or made; in a dry run,
/// the change that would make it.
async fn district_of_unit(
    ctx: &Ctx,
    unit: Option<RawUnit>,
    applier: &mut Applier<'_>,
    run: &RunRow,
) -> anyhow::Result<(Option<Uuid>, Option<Change>)> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM districts WHERE external_ref = $1")
            .bind(&run.unit_code)
            .fetch_optional(&ctx.pool)
            .await?;
    if let Some(district) = found {
        // The run is the district's from here on: its report, its drift.
        runs::set_district(ctx, run.id, district).await?;
        return Ok((found, None));
    }
    let unit = unit.with_context(|| format!("the source has no unit {}", run.unit_code))?;
    let change = Change {
        action: Action::CreateDistrict {
            name: unit.name.clone(),
        },
        external_ref: unit.code.clone(),
        class_ref: String::new(),
        version: 1,
        detail: unit.name,
    };
    if run.dry_run {
        return Ok((None, Some(change)));
    }
    let seqs = runs::record_plan(
        &mut *ctx.pool.acquire().await?,
        run.id,
        "",
        std::slice::from_ref(&change),
        &[],
    )
    .await?;
    let district = applier.create_district(&change, seqs[0]).await?;
    runs::set_district(ctx, run.id, district).await?;
    Ok((Some(district), None))
}

/// The office's staff as the source has them against the district's.
fn office_plan(office: Vec<RawPerson>, held: &[id::Person]) -> (Vec<Change>, Vec<RowError>) {
    let mut errors = Vec::new();
    let mut changes = Vec::new();
    for raw in office {
        let person = match normalise::office_person(raw) {
            Ok(person) => person,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let found = held.iter().find(|p| {
            p.external_ref == person.code || (!p.phone.is_empty() && p.phone == person.phone)
        });
        match found {
            None => changes.push(register_office(&person)),
            Some(held) => changes.extend(plan::rules::correction(held, &person, None, "")),
        }
    }
    (changes, errors)
}

fn register_office(person: &SourcePerson) -> Change {
    Change {
        action: Action::RegisterStaff {
            full_name: person.full_name.clone(),
            phone: person.phone.clone(),
            position: person.position.clone(),
        },
        external_ref: person.code.clone(),
        class_ref: String::new(),
        version: person.version,
        detail: format!("{}, {} (the office)", person.full_name, person.position),
    }
}

/// The ids of what a school's export holds, by the source's codes.
fn known_ids(held: &id::SchoolExport) -> HashMap<String, String> {
    let mut known = HashMap::new();
    for class in &held.classes {
        let code = if class.external_ref.is_empty() {
            &class.name
        } else {
            &class.external_ref
        };
        known.insert(format!("class:{code}"), class.id.clone());
    }
    for (kind, people) in [
        ("staff", &held.staff),
        ("student", &held.students),
        ("guardian", &held.guardians),
    ] {
        for person in people.iter().filter(|p| !p.external_ref.is_empty()) {
            known.insert(format!("{kind}:{}", person.external_ref), person.id.clone());
        }
    }
    known
}
