//! The demo's deterministic choices: request ids derived from what a request
//! makes, well-mixed picks, a roll call's exceptions, the school days of its
//! history and the month it closes.

/// A deterministic request id for what a request creates.
pub(crate) fn rid(key: &str) -> String {
    let hash = |seed: u64| {
        key.bytes().fold(seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let high = hash(0xcbf2_9ce4_8422_2325);
    let low = hash(0x84222325_cbf29ce4);
    uuid::Uuid::from_u64_pair(high, low).to_string()
}

/// A roll call's exceptions, the same for the same `key`: each student absent
/// with leave, absent without, or late, each about once in `one_in` roll calls;
/// the others present.
pub(crate) fn exceptions(
    students: &[String],
    key: &str,
    one_in: usize,
) -> Vec<lienlac_proto::attendance::v1::Mark> {
    use lienlac_proto::attendance::v1::{AttendanceStatus, Mark};
    students
        .iter()
        .filter_map(|student| {
            let status = match pick(&format!("{key}:{student}"), one_in) {
                0 => AttendanceStatus::AbsentExcused,
                1 => AttendanceStatus::AbsentUnexcused,
                2 => AttendanceStatus::Late,
                _ => return None,
            };
            Some(Mark {
                student_id: student.clone(),
                status: status as i32,
                ..Default::default()
            })
        })
        .collect()
}

/// A deterministic, well-mixed number from a key.
pub(crate) fn pick(key: &str, modulo: usize) -> usize {
    let mut x = key.bytes().fold(0x9E37_79B9_7F4A_7C15_u64, |x, b| {
        (x ^ u64::from(b)).wrapping_mul(0xBF58_476D_1CE4_E5B9)
    });
    x ^= x >> 31;
    (x % modulo as u64) as usize
}

/// The last `count` weekdays before `today`, oldest first.
pub(crate) fn school_days(today: time::Date, count: usize) -> Vec<time::Date> {
    let mut days = Vec::new();
    let mut day = today;
    while days.len() < count {
        day = day.previous_day().unwrap_or(day);
        if !matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        ) {
            days.push(day);
        }
    }
    days.reverse();
    days
}

/// `YYYY-MM`: the month before `today`'s, the last whose totals a homeroom
/// teacher has transferred by now.
pub(super) fn previous_month(today: time::Date) -> String {
    let last_of_previous = today
        .replace_day(1)
        .unwrap_or(today)
        .previous_day()
        .unwrap_or(today);
    format!(
        "{:04}-{:02}",
        last_of_previous.year(),
        last_of_previous.month() as u8
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_previous_month_is_the_calendar_month_before_today() {
        for (today, month) in [
            (date!(2026 - 12 - 01), "2026-11"),
            (date!(2026 - 12 - 31), "2026-11"),
            (date!(2027 - 01 - 15), "2026-12"),
            (date!(2027 - 03 - 01), "2027-02"),
        ] {
            assert_eq!(previous_month(today), month, "{today}");
        }
    }

    #[test]
    fn the_school_days_are_the_weekdays_before_today_oldest_first() {
        let days = school_days(date!(2026 - 12 - 01), 3);
        assert_eq!(
            days,
            [
                date!(2026 - 11 - 26),
                date!(2026 - 11 - 27),
                date!(2026 - 11 - 30)
            ]
        );
    }
}
