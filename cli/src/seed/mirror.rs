//! The demo's district as the city database holds it: mirrored by the sync
//! service (a full run of the unit), then read back from identity's exports.

use anyhow::Context as _;
use lienlac_proto::identity::v1 as id;
use lienlac_proto::sync::v1::SyncRunState;

use crate::args::SyncScope;
use crate::sync::Runs;

use super::Clients;

/// The city database's code of the demo's unit, the commune Tân Thông Hội.
pub(super) const DEMO_UNIT: &str = "79-XTTH";

/// A school of the mirrored district and what the directory holds of it.
pub(super) struct MirroredSchool {
    pub(super) school: id::School,
    pub(super) export: id::SchoolExport,
}

pub(super) struct Mirrored {
    pub(super) district: id::District,
    /// Staff of the unit's office.
    pub(super) office: Vec<id::Person>,
    /// In the city database's order of codes.
    pub(super) schools: Vec<MirroredSchool>,
}

/// Mirrors the demo's unit from the city database (a full run: on later seeds it
/// finds nothing to change) and reads the district back.
pub(super) async fn mirror(
    clients: &Clients,
    sync_url: &str,
    school_year: &str,
) -> anyhow::Result<Mirrored> {
    let runs = Runs {
        url: sync_url.to_owned(),
        json: false,
    };
    let unit = SyncScope {
        district: None,
        school: None,
        unit: Some(DEMO_UNIT.to_owned()),
    };
    eprintln!("mirroring unit {DEMO_UNIT} from the city database…");
    let run = runs
        .start(&clients.credentials, unit, None, false, false)
        .await
        .context("starting the mirror of the city database (is the sync service running, with SYNC_CITYDB_URL?)")?;
    let run = runs.wait(&clients.credentials, &run.id).await?;
    anyhow::ensure!(
        run.state == SyncRunState::Completed as i32,
        "the sync run {} failed: {}",
        run.id,
        run.failure
    );
    let applied: i64 = run.applied.values().sum();
    eprintln!(
        "mirrored: {applied} changes applied, {} rows the city database holds wrongly (`lienlac sync status {}`)",
        run.row_error_count, run.id
    );

    let mut directory = clients.directory.clone();
    let district = directory
        .export_district(clients.request(id::ExportDistrictRequest {
            district_id: run.district_id.clone(),
        })?)
        .await
        .context("reading the mirrored district")?
        .into_inner();
    let mut schools = district.schools;
    schools.sort_by(|a, b| a.external_ref.cmp(&b.external_ref));
    let mut mirrored = Vec::with_capacity(schools.len());
    for school in schools {
        let export = directory
            .export_school(clients.request(id::ExportSchoolRequest {
                school_id: school.id.clone(),
                school_year: school_year.to_owned(),
            })?)
            .await
            .with_context(|| format!("reading {}", school.name))?
            .into_inner();
        mirrored.push(MirroredSchool { school, export });
    }
    Ok(Mirrored {
        district: district
            .district
            .context("an export without its district")?,
        office: district.staff,
        schools: mirrored,
    })
}
