//! A bulletin's content as the client sent it, checked field by field: days of
//! the week 1 (Monday) to 7, periods 1 to 12, each slot and day once, weeks that
//! start on a Monday, bounded lists and texts.

use kernel::grpc::{Check, Violation};
use lienlac_proto::messaging::v1 as pb;

use super::rules;

const NAME_CHARS: usize = 100;

fn range(check: &mut Check, field: &str, value: i32, max: i32) {
    if !(1..=max).contains(&value) {
        check.add(Violation::new(
            field,
            format!("must be between 1 and {max}"),
            format!("phải từ 1 đến {max}"),
        ));
    }
}

fn once<T: Ord + Clone>(check: &mut Check, field: &str, keys: &[T]) {
    let mut sorted = keys.to_vec();
    sorted.sort();
    if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
        check.add(Violation::new(
            field,
            "must not name the same entry twice",
            "không được trùng lặp",
        ));
    }
}

/// Optional short texts: at most `max` of them, each printable and short.
fn texts(check: &mut Check, field: &str, values: &[String], max: usize) -> Vec<String> {
    if !check.at_most(field, values.len(), max) {
        return Vec::new();
    }
    values
        .iter()
        .map(|value| check.text(field, value, NAME_CHARS))
        .collect()
}

fn optional_text(check: &mut Check, field: &str, value: &str) -> String {
    if value.trim().is_empty() {
        String::new()
    } else {
        check.text(field, value, NAME_CHARS)
    }
}

pub(crate) fn timetable(check: &mut Check, given: Option<&pb::Timetable>) -> pb::Timetable {
    let slots = given.map(|t| t.slots.as_slice()).unwrap_or_default();
    if slots.is_empty() {
        check.add(Violation::required("timetable.slots"));
    }
    if !check.at_most("timetable.slots", slots.len(), 7 * 12) {
        return pb::Timetable::default();
    }
    let slots: Vec<pb::TimetableSlot> = slots
        .iter()
        .map(|slot| {
            range(check, "timetable.slots.day", slot.day, 7);
            range(check, "timetable.slots.period", slot.period, 12);
            pb::TimetableSlot {
                day: slot.day,
                period: slot.period,
                subject: check.text("timetable.slots.subject", &slot.subject, NAME_CHARS),
                teacher: optional_text(check, "timetable.slots.teacher", &slot.teacher),
                room: optional_text(check, "timetable.slots.room", &slot.room),
            }
        })
        .collect();
    let keys: Vec<(i32, i32)> = slots.iter().map(|s| (s.day, s.period)).collect();
    once(check, "timetable.slots", &keys);
    pb::Timetable { slots }
}

pub(crate) fn menu(check: &mut Check, given: Option<&pb::Menu>) -> pb::Menu {
    let days = given.map(|m| m.days.as_slice()).unwrap_or_default();
    if days.is_empty() {
        check.add(Violation::required("menu.days"));
    }
    if !check.at_most("menu.days", days.len(), 7) {
        return pb::Menu::default();
    }
    let days: Vec<pb::MenuDay> = days
        .iter()
        .map(|day| {
            range(check, "menu.days.day", day.day, 7);
            if day.meals.is_empty() {
                check.add(Violation::required("menu.days.meals"));
            }
            let meals = if check.at_most("menu.days.meals", day.meals.len(), 6) {
                day.meals
                    .iter()
                    .map(|meal| pb::Meal {
                        name: check.text("menu.days.meals.name", &meal.name, NAME_CHARS),
                        dishes: texts(check, "menu.days.meals.dishes", &meal.dishes, 20),
                        allergens: texts(check, "menu.days.meals.allergens", &meal.allergens, 20),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            pb::MenuDay {
                day: day.day,
                meals,
            }
        })
        .collect();
    let keys: Vec<i32> = days.iter().map(|d| d.day).collect();
    once(check, "menu.days", &keys);
    pb::Menu { days }
}

pub(crate) fn plan(check: &mut Check, given: Option<&pb::CurriculumPlan>) -> pb::CurriculumPlan {
    let weeks = given.map(|p| p.weeks.as_slice()).unwrap_or_default();
    if weeks.is_empty() {
        check.add(Violation::required("plan.weeks"));
    }
    if !check.at_most("plan.weeks", weeks.len(), 60) {
        return pb::CurriculumPlan::default();
    }
    let weeks: Vec<pb::CurriculumWeek> = weeks
        .iter()
        .map(|week| {
            let monday = check.date("plan.weeks.week_of", &week.week_of);
            if !rules::is_monday(monday) {
                check.add(Violation::new(
                    "plan.weeks.week_of",
                    "must be a Monday",
                    "phải là ngày thứ Hai",
                ));
            }
            let subjects = if check.at_most("plan.weeks.subjects", week.subjects.len(), 30) {
                week.subjects
                    .iter()
                    .map(|subject| pb::SubjectLessons {
                        subject: check.text(
                            "plan.weeks.subjects.subject",
                            &subject.subject,
                            NAME_CHARS,
                        ),
                        lessons: texts(check, "plan.weeks.subjects.lessons", &subject.lessons, 20),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            pb::CurriculumWeek {
                week_of: kernel::dates::format(monday),
                subjects,
            }
        })
        .collect();
    let keys: Vec<String> = weeks.iter().map(|w| w.week_of.clone()).collect();
    once(check, "plan.weeks", &keys);
    pb::CurriculumPlan { weeks }
}
