//! A run's source, whichever adapter reads it: the city database's API, or a
//! file dropped for the district (a OneRoster zip). Execute.rs asks it the same
//! questions either way.

use std::collections::BTreeSet;

use super::citydb::{CityDb, SourceError};
use super::oneroster::Package;
use super::{RawPerson, RawSchool, RawSchoolData, RawUnit, RowError};

pub(crate) enum Source<'a> {
    CityDb(&'a CityDb),
    /// A file read whole; `name` for messages.
    Package {
        name: String,
        package: Package,
    },
}

/// What a run of a unit reads first: the unit, where the change feed stands, and
/// the schools that changed since the last run (`None`: all of them).
pub(crate) struct Start {
    pub unit: Option<RawUnit>,
    pub last_seq: Option<u64>,
    pub touched: Option<BTreeSet<String>>,
}

impl Source<'_> {
    /// A record the source lacks is no longer in it (false for a delta file).
    pub(crate) fn complete(&self) -> bool {
        match self {
            Source::CityDb(_) => true,
            Source::Package { package, .. } => package.complete,
        }
    }

    /// Names the columns of row errors as the source's file does.
    pub(crate) fn name_columns(&self, errors: &mut [RowError]) {
        if let Source::Package {
            package:
                Package {
                    column_names: Some(name_of),
                    ..
                },
            ..
        } = self
        {
            for error in errors {
                if let Some(name) = name_of(&error.column) {
                    error.column = name.to_owned();
                }
            }
        }
    }

    /// Row errors found in reading the whole source (a file's rows).
    pub(crate) fn errors(&self) -> Vec<RowError> {
        match self {
            Source::CityDb(_) => Vec::new(),
            Source::Package { package, .. } => package.errors.clone(),
        }
    }

    pub(crate) async fn start(
        &self,
        unit_code: &str,
        cursor: Option<u64>,
        incremental: bool,
    ) -> anyhow::Result<Start> {
        match self {
            Source::CityDb(citydb) => {
                let unit = citydb
                    .units()
                    .await?
                    .into_iter()
                    .find(|u| u.code == unit_code);
                let (feed, last_seq) = citydb.changes(cursor.unwrap_or(0)).await?;
                let touched = (incremental && cursor.is_some())
                    .then(|| feed.into_iter().map(|c| c.school_code).collect());
                Ok(Start {
                    unit,
                    last_seq: Some(last_seq),
                    touched,
                })
            }
            Source::Package { name, package } => {
                let unit = package.unit.clone();
                if let Some(found) = &unit
                    && found.code != unit_code
                {
                    anyhow::bail!(
                        "{name} is the roster of district {}, not of {unit_code}",
                        found.code
                    );
                }
                Ok(Start {
                    unit,
                    last_seq: None,
                    touched: None,
                })
            }
        }
    }

    pub(crate) async fn schools(&self, unit_code: &str) -> Result<Vec<RawSchool>, SourceError> {
        match self {
            Source::CityDb(citydb) => citydb.schools(unit_code).await,
            Source::Package { package, .. } => {
                Ok(package.schools.iter().map(|s| s.school.clone()).collect())
            }
        }
    }

    pub(crate) async fn office_staff(
        &self,
        unit_code: &str,
    ) -> Result<Vec<RawPerson>, SourceError> {
        match self {
            Source::CityDb(citydb) => citydb.office_staff(unit_code).await,
            Source::Package { package, .. } => Ok(package.office_staff.clone()),
        }
    }

    pub(crate) async fn school(
        &self,
        school: RawSchool,
        school_year: &str,
    ) -> Result<RawSchoolData, SourceError> {
        match self {
            Source::CityDb(citydb) => citydb.school(school, school_year).await,
            Source::Package { package, .. } => Ok(package
                .schools
                .iter()
                .find(|s| s.school.code == school.code)
                .cloned()
                .unwrap_or(RawSchoolData {
                    school,
                    classes: Vec::new(),
                    staff: Vec::new(),
                    students: Vec::new(),
                    guardians: Vec::new(),
                })),
        }
    }
}
