//! A school's or a district's day: per session, classes that took attendance and
//! the counts by status.

use std::collections::{BTreeMap, HashMap, HashSet};

use kernel::error::AppResult;
use lienlac_proto::attendance::v1::Session;
use lienlac_proto::reporting::v1 as pb;
use sqlx::PgPool;
use time::Date;
use uuid::Uuid;

use super::{Counts, Scope};
use crate::access::SchoolScope;

const SESSIONS: [Session; 2] = [Session::Morning, Session::Afternoon];

/// One session's figures being added up.
#[derive(Default, Clone)]
struct SessionTally {
    classes_total: i64,
    submitted: i64,
    counts: Counts,
}

impl SessionTally {
    fn add(&mut self, other: &SessionTally) {
        self.classes_total += other.classes_total;
        self.submitted += other.submitted;
        self.counts.add(other.counts);
    }

    fn to_proto(&self, session: Session, missing: Vec<pb::ClassRef>) -> pb::SessionSummary {
        pb::SessionSummary {
            session: session as i32,
            classes_total: self.classes_total as i32,
            classes_submitted: self.submitted as i32,
            missing,
            counts: Some(self.counts.to_proto()),
            students_marked: self.counts.marked() as i32,
            absence_rate: self.counts.absence_rate(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct RollCallCounts {
    scope_id: Uuid,
    session: i16,
    submitted: i64,
    present: i64,
    absent_excused: i64,
    absent_unexcused: i64,
    late: i64,
}

impl RollCallCounts {
    /// The sums, without the classes total (which comes from the directory).
    fn tally(&self) -> SessionTally {
        SessionTally {
            classes_total: 0,
            submitted: self.submitted,
            counts: Counts {
                present: self.present,
                absent_excused: self.absent_excused,
                absent_unexcused: self.absent_unexcused,
                late: self.late,
            },
        }
    }
}

/// The sums of the day's roll calls per session, and per class of a school or per
/// school of a district.
async fn roll_call_counts(
    pool: &PgPool,
    scope: Scope,
    date: Date,
) -> sqlx::Result<Vec<RollCallCounts>> {
    let filter = scope.column();
    let group = match scope {
        Scope::School(_) => "class_id",
        Scope::District(_) => "school_id",
    };
    let sql = format!(
        "SELECT {group} AS scope_id, session, count(*) AS submitted, sum(present)::int8 AS present, \
                sum(absent_excused)::int8 AS absent_excused, sum(absent_unexcused)::int8 AS absent_unexcused, \
                sum(late)::int8 AS late \
         FROM roll_calls WHERE {filter} = $1 AND date = $2 GROUP BY {group}, session"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(scope.id())
        .bind(date)
        .fetch_all(pool)
        .await
}

pub(crate) async fn school_summary(
    pool: &PgPool,
    school: &SchoolScope,
    date: Date,
) -> AppResult<pb::SchoolDailySummary> {
    let classes: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM classes WHERE school_id = $1 AND school_year = $2 ORDER BY grade, name",
    )
    .bind(school.id)
    .bind(school::dates::school_year_of(date))
    .fetch_all(pool)
    .await?;
    let closed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM closures WHERE school_id = $1 AND $2 BETWEEN from_date AND to_date)",
    )
    .bind(school.id)
    .bind(date)
    .fetch_one(pool)
    .await?;
    let counts = roll_call_counts(pool, Scope::School(school.id), date).await?;

    let sessions = SESSIONS
        .into_iter()
        .map(|session| {
            let mut tally = SessionTally {
                classes_total: classes.len() as i64,
                ..SessionTally::default()
            };
            let mut taken = HashSet::new();
            for row in counts.iter().filter(|row| row.session == session as i16) {
                taken.insert(row.scope_id);
                tally.add(&row.tally());
            }
            let missing = classes
                .iter()
                .filter(|(id, _)| !taken.contains(id))
                .map(|(id, name)| pb::ClassRef {
                    class_id: id.to_string(),
                    name: name.clone(),
                })
                .collect();
            tally.to_proto(session, missing)
        })
        .collect();
    Ok(pb::SchoolDailySummary {
        school_id: school.id.to_string(),
        school_name: school.name.clone(),
        date: kernel::dates::format(date),
        closed,
        sessions,
    })
}

pub(crate) async fn district_summary(
    pool: &PgPool,
    district_id: Uuid,
    date: Date,
) -> AppResult<pb::DistrictDailySummary> {
    let schools: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM schools WHERE district_id = $1 ORDER BY name, id")
            .bind(district_id)
            .fetch_all(pool)
            .await?;
    let class_counts: HashMap<Uuid, i64> = sqlx::query_as(
        "SELECT school_id, count(*) FROM classes WHERE district_id = $1 AND school_year = $2 GROUP BY school_id",
    )
    .bind(district_id)
    .bind(school::dates::school_year_of(date))
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let closed: HashSet<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT c.school_id FROM closures c JOIN schools s ON s.id = c.school_id \
         WHERE s.district_id = $1 AND $2 BETWEEN c.from_date AND c.to_date",
    )
    .bind(district_id)
    .bind(date)
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let mut by_school: HashMap<(Uuid, i16), SessionTally> = HashMap::new();
    for row in roll_call_counts(pool, Scope::District(district_id), date).await? {
        by_school.insert((row.scope_id, row.session), row.tally());
    }

    let mut totals: BTreeMap<i32, SessionTally> = BTreeMap::new();
    let schools = schools
        .into_iter()
        .map(|(school_id, name)| {
            let classes_total = class_counts.get(&school_id).copied().unwrap_or(0);
            let sessions = SESSIONS
                .into_iter()
                .map(|session| {
                    let mut tally = by_school
                        .remove(&(school_id, session as i16))
                        .unwrap_or_default();
                    tally.classes_total = classes_total;
                    totals.entry(session as i32).or_default().add(&tally);
                    tally.to_proto(session, Vec::new())
                })
                .collect();
            pb::SchoolDailySummary {
                school_id: school_id.to_string(),
                school_name: name,
                date: kernel::dates::format(date),
                closed: closed.contains(&school_id),
                sessions,
            }
        })
        .collect();
    Ok(pb::DistrictDailySummary {
        district_id: district_id.to_string(),
        date: kernel::dates::format(date),
        schools,
        totals: SESSIONS
            .into_iter()
            .map(|session| {
                totals
                    .remove(&(session as i32))
                    .unwrap_or_default()
                    .to_proto(session, Vec::new())
            })
            .collect(),
    })
}
