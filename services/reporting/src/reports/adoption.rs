//! How well schools use lienlac over a period: staff accounts and sign-ins,
//! homeroom teachers taking attendance regularly and transferring the month's
//! totals to the city database, guardians activated, roll calls on time.

use std::collections::{BTreeSet, HashMap, HashSet};

use kernel::error::AppResult;
use lienlac_proto::reporting::v1 as pb;
use sqlx::PgPool;
use time::{Date, Weekday};
use uuid::Uuid;

use super::Scope;
use crate::Settings;
use crate::config::format_clock;

#[derive(sqlx::FromRow)]
struct StaffRow {
    school_id: Uuid,
    total: i64,
    with_account: i64,
    activated: i64,
    signed_in: i64,
}

#[derive(sqlx::FromRow)]
struct ClassRow {
    id: Uuid,
    school_id: Uuid,
    name: String,
    has_homeroom_teacher: bool,
}

#[derive(sqlx::FromRow)]
struct RollCallRow {
    class_id: Uuid,
    days: i64,
    submitted: i64,
    on_time: i64,
}

/// Guardians per class, per school (class NULL) and in all (both NULL), each
/// guardian counted once per group.
#[derive(sqlx::FromRow)]
struct GuardianRow {
    school_id: Option<Uuid>,
    class_id: Option<Uuid>,
    total: i64,
    activated: i64,
}

pub(crate) async fn adoption(
    pool: &PgPool,
    settings: &Settings,
    scope: Scope,
    from: Date,
    to: Date,
) -> AppResult<pb::AdoptionReport> {
    let column = scope.column();
    // Days after today have not happened: they are no school days yet.
    let last_day = to.min(school::dates::local_today());
    let school_year = school::dates::school_year_of(to);
    let schools = sqlx::query_as::<_, (Uuid, String)>(sqlx::AssertSqlSafe(format!(
        "SELECT id, name FROM schools WHERE {} = $1 ORDER BY name, id",
        match scope {
            Scope::School(_) => "id",
            Scope::District(_) => "district_id",
        }
    )))
    .bind(scope.id())
    .fetch_all(pool);
    let staff = sqlx::query_as::<_, StaffRow>(sqlx::AssertSqlSafe(format!(
        "SELECT school_id, count(*) AS total, \
           count(*) FILTER (WHERE accounts > 0) AS with_account, \
           count(*) FILTER (WHERE activated) AS activated, \
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM sign_ins si WHERE si.person_id = st.id AND si.date BETWEEN $2 AND $3)) AS signed_in \
         FROM staff st WHERE {column} = $1 GROUP BY school_id"
    )))
    .bind(scope.id())
    .bind(from)
    .bind(to)
    .fetch_all(pool);
    let classes = sqlx::query_as::<_, ClassRow>(sqlx::AssertSqlSafe(format!(
        "SELECT id, school_id, name, homeroom_teacher_id IS NOT NULL AS has_homeroom_teacher \
         FROM classes WHERE {column} = $1 AND school_year = $2 ORDER BY grade, name, id"
    )))
    .bind(scope.id())
    .bind(&school_year)
    .fetch_all(pool);
    // Days with a roll call are counted as bits of a 64-day mask per class (no sort,
    // unlike count(DISTINCT date)); on time: submitted on the roll call's local date,
    // before its session's cutoff.
    let roll_calls = sqlx::query_as::<_, RollCallRow>(sqlx::AssertSqlSafe(format!(
        "SELECT class_id, sum(bit_count(days::bit(64)))::int8 AS days, \
                sum(submitted)::int8 AS submitted, sum(on_time)::int8 AS on_time \
         FROM (SELECT class_id, bit_or(1::int8 << ((date - $2::date) % 64)) AS days, count(*) AS submitted, \
                      count(*) FILTER (WHERE submitted_at AT TIME ZONE INTERVAL '07:00' >= date \
                                         AND submitted_at AT TIME ZONE INTERVAL '07:00' \
                                             < date + CASE session WHEN 1 THEN $4::time ELSE $5::time END) AS on_time \
               FROM roll_calls WHERE {column} = $1 AND date BETWEEN $2 AND $3 \
               GROUP BY class_id, (date - $2::date) / 64) per_64_days \
         GROUP BY class_id"
    )))
    .bind(scope.id())
    .bind(from)
    .bind(last_day)
    .bind(settings.morning_cutoff)
    .bind(settings.afternoon_cutoff)
    .fetch_all(pool);
    // Weekend days a school took attendance on count as its school days.
    let weekend_days = sqlx::query_as::<_, (Uuid, Date)>(sqlx::AssertSqlSafe(format!(
        "SELECT DISTINCT school_id, date FROM roll_calls \
         WHERE {column} = $1 AND date = ANY (ARRAY( \
           SELECT $2::date + i FROM generate_series(0, $3::date - $2::date) AS i \
           WHERE extract(isodow FROM $2::date + i) > 5))"
    )))
    .bind(scope.id())
    .bind(from)
    .bind(last_day)
    .fetch_all(pool);
    let transfer_month = transfer_month(to);
    let transferred = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(format!(
        "SELECT class_id FROM month_transfers WHERE month = $2 AND sent \
           AND class_id IN (SELECT id FROM classes WHERE {column} = $1 AND school_year = $3)"
    )))
    .bind(scope.id())
    .bind(&transfer_month)
    .bind(&school_year)
    .fetch_all(pool);
    let closures = sqlx::query_as::<_, (Uuid, Date, Date)>(sqlx::AssertSqlSafe(format!(
        "SELECT c.school_id, c.from_date, c.to_date FROM closures c JOIN schools s ON s.id = c.school_id \
         WHERE s.{} = $1 AND c.from_date <= $3 AND c.to_date >= $2",
        match scope {
            Scope::School(_) => "id",
            Scope::District(_) => "district_id",
        }
    )))
    .bind(scope.id())
    .bind(from)
    .bind(last_day)
    .fetch_all(pool);
    // Guardians of one child are summed from the counts on their child's enrolment;
    // only guardians of several children need counting once per group (DISTINCT).
    // A student has at most one enrolment period of a school year on a date. The
    // two parts run as statements of their own, at the same time, and are added.
    let unshared_guardians = sqlx::query_as::<_, GuardianRow>(sqlx::AssertSqlSafe(format!(
        "SELECT c.school_id, c.id AS class_id, coalesce(sum(e.total), 0)::int8 AS total, coalesce(sum(e.activated), 0)::int8 AS activated \
         FROM classes c \
         JOIN (SELECT e.class_id, sum(e.guardians) AS total, sum(e.guardians_activated) AS activated \
               FROM enrolment_periods e \
               WHERE e.class_id IN (SELECT id FROM classes WHERE {column} = $1 AND school_year = $3) \
                 AND e.from_date <= $2 AND (e.to_date IS NULL OR e.to_date > $2) \
               GROUP BY e.class_id) e ON e.class_id = c.id \
         GROUP BY GROUPING SETS ((c.school_id, c.id), (c.school_id), ())"
    )))
    .bind(scope.id())
    .bind(last_day.max(from))
    .bind(&school_year)
    .fetch_all(pool);
    let shared_guardians = sqlx::query_as::<_, GuardianRow>(sqlx::AssertSqlSafe(format!(
        "SELECT c.school_id, e.class_id, count(DISTINCT g.guardian_id) AS total, \
                count(DISTINCT g.guardian_id) FILTER (WHERE g.activated) AS activated \
         FROM classes c \
         JOIN enrolment_periods e ON e.class_id = c.id AND e.from_date <= $2 AND (e.to_date IS NULL OR e.to_date > $2) \
         JOIN guardianships g ON g.student_id = e.student_id AND g.shared \
         WHERE c.{column} = $1 AND c.school_year = $3 \
         GROUP BY GROUPING SETS ((c.school_id, e.class_id), (c.school_id), ())"
    )))
    .bind(scope.id())
    .bind(last_day.max(from))
    .bind(&school_year)
    .fetch_all(pool);
    // Independent statements, each on a connection of its own, at the same time.
    let (
        schools,
        staff,
        classes,
        roll_calls,
        weekend_days,
        transferred,
        closures,
        unshared_guardians,
        shared_guardians,
    ) = tokio::try_join!(
        schools,
        staff,
        classes,
        roll_calls,
        weekend_days,
        transferred,
        closures,
        unshared_guardians,
        shared_guardians
    )?;
    let transferred: HashSet<Uuid> = transferred.into_iter().collect();
    let staff: HashMap<Uuid, StaffRow> =
        staff.into_iter().map(|row| (row.school_id, row)).collect();
    let roll_calls: HashMap<Uuid, RollCallRow> = roll_calls
        .into_iter()
        .map(|row| (row.class_id, row))
        .collect();
    let mut guardian_figures: HashMap<(Option<Uuid>, Option<Uuid>), (i64, i64)> = HashMap::new();
    for row in unshared_guardians.into_iter().chain(shared_guardians) {
        let figures = guardian_figures
            .entry((row.school_id, row.class_id))
            .or_default();
        figures.0 += row.total;
        figures.1 += row.activated;
    }

    let mut totals = pb::AdoptionFigures::default();
    let mut reports = Vec::with_capacity(schools.len());
    for (school_id, school_name) in schools {
        let mut days = weekdays(from, last_day);
        for (_, on) in weekend_days
            .iter()
            .filter(|(school, _)| *school == school_id)
        {
            days.insert(*on);
        }
        for (_, first, last) in closures
            .iter()
            .filter(|(school, _, _)| *school == school_id)
        {
            days.retain(|day| day < first || day > last);
        }
        let school_days = days.len() as i64;
        let mut figures = pb::AdoptionFigures::default();
        if let Some(row) = staff.get(&school_id) {
            figures.staff_total = row.total as i32;
            figures.staff_with_account = row.with_account as i32;
            figures.staff_activated = row.activated as i32;
            figures.staff_signed_in = row.signed_in as i32;
        }
        let (guardians_total, guardians_activated) = guardian_figures
            .get(&(Some(school_id), None))
            .copied()
            .unwrap_or_default();
        figures.guardians_total = guardians_total as i32;
        figures.guardians_activated = guardians_activated as i32;
        let mut class_reports = Vec::new();
        for class in classes.iter().filter(|class| class.school_id == school_id) {
            let (days_taken, submitted, on_time) = roll_calls
                .get(&class.id)
                .map(|row| (row.days, row.submitted, row.on_time))
                .unwrap_or_default();
            figures.roll_calls_submitted += submitted as i32;
            figures.roll_calls_on_time += on_time as i32;
            let totals_transferred = transferred.contains(&class.id);
            if class.has_homeroom_teacher {
                figures.homeroom_teachers_total += 1;
                if days_taken as f64 >= settings.regular_share * school_days as f64 {
                    figures.homeroom_teachers_regular += 1;
                }
                if totals_transferred {
                    figures.homeroom_teachers_transferred += 1;
                }
            }
            if matches!(scope, Scope::School(_)) {
                let (total, activated) = guardian_figures
                    .get(&(Some(school_id), Some(class.id)))
                    .copied()
                    .unwrap_or_default();
                class_reports.push(pb::ClassAdoption {
                    class_id: class.id.to_string(),
                    name: class.name.clone(),
                    guardians_total: total as i32,
                    guardians_activated: activated as i32,
                    days_with_roll_call: days_taken as i32,
                    school_days: school_days as i32,
                    has_homeroom_teacher: class.has_homeroom_teacher,
                    totals_transferred,
                });
            }
        }
        add(&mut totals, &figures);
        reports.push(pb::SchoolAdoption {
            school_id: school_id.to_string(),
            school_name,
            school_days: school_days as i32,
            figures: Some(figures),
            classes: class_reports,
        });
    }
    // A guardian of children in two schools counts once in the district's total.
    let (guardians_total, guardians_activated) = guardian_figures
        .get(&(None, None))
        .copied()
        .unwrap_or_default();
    totals.guardians_total = guardians_total as i32;
    totals.guardians_activated = guardians_activated as i32;
    Ok(pb::AdoptionReport {
        from_date: kernel::dates::format(from),
        to_date: kernel::dates::format(to),
        regular_share: settings.regular_share,
        morning_cutoff: format_clock(settings.morning_cutoff),
        afternoon_cutoff: format_clock(settings.afternoon_cutoff),
        schools: reports,
        totals: Some(totals),
        transfer_month,
    })
}

/// `YYYY-MM`: the month whose totals a report up to `to` counts as transferred,
/// the last one that ended by `to` (a report of a month in progress asks after
/// the month before).
fn transfer_month(to: Date) -> String {
    let ended = to.next_day().is_none_or(|next| next.month() != to.month());
    let (year, month) = if ended {
        (to.year(), to.month())
    } else if to.month() == time::Month::January {
        (to.year() - 1, time::Month::December)
    } else {
        (to.year(), to.month().previous())
    };
    format!("{year:04}-{:02}", month as u8)
}

/// Monday to Friday in `[from, to]`.
fn weekdays(from: Date, to: Date) -> BTreeSet<Date> {
    let mut days = BTreeSet::new();
    let mut day = from;
    while day <= to {
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            days.insert(day);
        }
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
    }
    days
}

fn add(totals: &mut pb::AdoptionFigures, figures: &pb::AdoptionFigures) {
    totals.staff_total += figures.staff_total;
    totals.staff_with_account += figures.staff_with_account;
    totals.staff_activated += figures.staff_activated;
    totals.staff_signed_in += figures.staff_signed_in;
    totals.homeroom_teachers_total += figures.homeroom_teachers_total;
    totals.homeroom_teachers_regular += figures.homeroom_teachers_regular;
    totals.homeroom_teachers_transferred += figures.homeroom_teachers_transferred;
    totals.roll_calls_submitted += figures.roll_calls_submitted;
    totals.roll_calls_on_time += figures.roll_calls_on_time;
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::transfer_month;

    #[test]
    fn the_transfer_month_is_the_last_that_ended_by_the_end_of_the_period() {
        for (to, month) in [
            (date!(2026 - 11 - 30), "2026-11"),
            (date!(2026 - 11 - 29), "2026-10"),
            (date!(2026 - 12 - 01), "2026-11"),
            (date!(2027 - 01 - 15), "2026-12"),
            (date!(2026 - 12 - 31), "2026-12"),
            (date!(2028 - 02 - 28), "2028-01"),
            (date!(2028 - 02 - 29), "2028-02"),
        ] {
            assert_eq!(transfer_month(to), month, "{to}");
        }
    }
}
