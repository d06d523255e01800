//! `lienlac timetable`, `lienlac menu` and `lienlac plan`: the version in force for
//! a guardian's child or a class, and publishing a new one from a JSON file.

use anyhow::Context as _;
use lienlac_proto::identity::v1::ScopeKind;
use lienlac_proto::messaging::v1 as pb;
use lienlac_proto::messaging::v1::BulletinKind;
use uuid::Uuid;

use crate::directory::{self, Directory};
use crate::messaging::Messaging;
use crate::{dates, session};

const DAYS: [&str; 7] = [
    "Thứ Hai",
    "Thứ Ba",
    "Thứ Tư",
    "Thứ Năm",
    "Thứ Sáu",
    "Thứ Bảy",
    "Chủ Nhật",
];

fn day_name(day: i32) -> &'static str {
    usize::try_from(day - 1)
        .ok()
        .and_then(|i| DAYS.get(i))
        .copied()
        .unwrap_or("?")
}

fn print(bulletin: &pb::Bulletin) {
    println!(
        "version {} in force from {}",
        bulletin.version, bulletin.effective_from
    );
    match &bulletin.content {
        Some(pb::bulletin::Content::Timetable(timetable)) => {
            let mut slots = timetable.slots.clone();
            slots.sort_by_key(|slot| (slot.day, slot.period));
            for slot in slots {
                println!(
                    "{:<9} tiết {:<2}  {:<20} {:<16} {}",
                    day_name(slot.day),
                    slot.period,
                    slot.subject,
                    slot.teacher,
                    slot.room
                );
            }
        }
        Some(pb::bulletin::Content::Menu(menu)) => {
            for day in &menu.days {
                println!("{}", day_name(day.day));
                for meal in &day.meals {
                    let allergens = if meal.allergens.is_empty() {
                        String::new()
                    } else {
                        format!("  (có {})", meal.allergens.join(", "))
                    };
                    println!("  {}: {}{allergens}", meal.name, meal.dishes.join(", "));
                }
            }
        }
        Some(pb::bulletin::Content::CurriculumPlan(plan)) => {
            for week in &plan.weeks {
                println!("tuần từ {}", week.week_of);
                for subject in &week.subjects {
                    println!("  {}: {}", subject.subject, subject.lessons.join("; "));
                }
            }
        }
        None => {}
    }
}

impl Messaging {
    pub(crate) async fn show_bulletin(
        &self,
        kind: BulletinKind,
        class: Option<&str>,
        child: Option<String>,
        date: Option<String>,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let date = date.unwrap_or_else(dates::today);
        let mut request = pb::GetBulletinRequest {
            date: date.clone(),
            ..Default::default()
        };
        let my_child = || async {
            let me = directory.who_am_i().await?;
            me.roles
                .into_iter()
                .find(|role| role.scope_kind == ScopeKind::Student as i32)
                .map(|role| role.scope_id)
                .context("name a class with --class (or, as a guardian, a child with --child)")
        };
        match (class, child) {
            (Some(class), _) => request.class_id = directory.class_id(class, &date).await?,
            (None, Some(child)) => request.student_id = child,
            (None, None) if kind == BulletinKind::Menu => {
                match directory.own_scope(directory::Scope::School).await {
                    Ok(school) => request.school_id = school,
                    Err(_) => request.student_id = my_child().await?,
                }
            }
            (None, None) => request.student_id = my_child().await?,
        }
        let request = session::authorised(request, &credentials)?;
        let mut client = self.client().await?;
        let bulletin = match kind {
            BulletinKind::Menu => client.get_menu(request).await?,
            BulletinKind::CurriculumPlan => client.get_curriculum_plan(request).await?,
            _ => client.get_timetable(request).await?,
        }
        .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&bulletin)?);
        } else {
            print(&bulletin);
        }
        Ok(())
    }

    pub(crate) async fn publish_bulletin(
        &self,
        kind: BulletinKind,
        class: Option<&str>,
        from: String,
        file: &std::path::Path,
        classification: pb::Classification,
    ) -> anyhow::Result<()> {
        let credentials = session::current().await?;
        let directory = Directory::connect(&credentials).await?;
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let unreadable = || format!("{} is not the JSON this needs", file.display());
        let scope = match (kind, class) {
            (BulletinKind::Menu, _) => directory.own_scope(directory::Scope::School).await?,
            (_, Some(class)) => directory.class_id(class, &from).await?,
            (_, None) => anyhow::bail!("name the class with --class"),
        };
        let request_id = Uuid::now_v7().to_string();
        let classification = classification as i32;
        let mut client = self.client().await?;
        let bulletin = match kind {
            BulletinKind::Menu => {
                let menu = serde_json::from_str(&text).with_context(unreadable)?;
                let request = pb::PublishMenuRequest {
                    request_id,
                    school_id: scope,
                    effective_from: from,
                    classification,
                    menu: Some(menu),
                };
                client
                    .publish_menu(session::authorised(request, &credentials)?)
                    .await?
            }
            BulletinKind::CurriculumPlan => {
                let plan = serde_json::from_str(&text).with_context(unreadable)?;
                let request = pb::PublishCurriculumPlanRequest {
                    request_id,
                    class_id: scope,
                    effective_from: from,
                    classification,
                    plan: Some(plan),
                };
                client
                    .publish_curriculum_plan(session::authorised(request, &credentials)?)
                    .await?
            }
            _ => {
                let timetable = serde_json::from_str(&text).with_context(unreadable)?;
                let request = pb::PublishTimetableRequest {
                    request_id,
                    class_id: scope,
                    effective_from: from,
                    classification,
                    timetable: Some(timetable),
                };
                client
                    .publish_timetable(session::authorised(request, &credentials)?)
                    .await?
            }
        }
        .into_inner();
        if self.json {
            println!("{}", serde_json::to_string_pretty(&bulletin)?);
        } else {
            println!(
                "version {} published, in force from {}; guardians told in announcement {}",
                bulletin.version, bulletin.effective_from, bulletin.announcement_id
            );
        }
        Ok(())
    }
}
