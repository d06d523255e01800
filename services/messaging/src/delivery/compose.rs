//! The words a channel sends: an absence notice naming the child, an
//! announcement's title and the start of its text, or a day's digest of
//! announcements' titles.

use std::collections::HashMap;

use school::names::StudentName;
use time::Date;
use uuid::Uuid;

use super::Outgoing;

/// The most characters of an announcement's text a message carries; the app
/// shows the rest.
const EXCERPT: usize = 300;

/// What one claimed delivery is about, as loaded with it.
pub(crate) enum About {
    AbsenceNotice {
        student: Uuid,
        class: String,
        date: Date,
        session: i16,
        status: i16,
        follow_up: bool,
    },
    Announcement {
        title: String,
        body: String,
        emergency: bool,
    },
}

/// The start of `text`, at most [`EXCERPT`] characters, marked when cut.
fn excerpt(text: &str) -> String {
    let mut cut: String = text.chars().take(EXCERPT).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// One delivery's message, to `recipient` (with `phone` for a paid channel);
/// none when the child's name is no longer known (erased).
pub(crate) fn one(
    about: &About,
    delivery: Uuid,
    notice: Uuid,
    recipient: Uuid,
    phone: Option<String>,
    names: &HashMap<Uuid, StudentName>,
) -> Option<Outgoing> {
    let (title, text, template, urgent, url) = match about {
        About::AbsenceNotice {
            student,
            class,
            date,
            session,
            status,
            follow_up,
        } => {
            let child = &names.get(student)?.full_name;
            let text = crate::notices::words(child, class, *date, *session, *status, *follow_up);
            let day = format!(
                "{:02}/{:02}/{}",
                date.day(),
                u8::from(date.month()),
                date.year()
            );
            let template = vec![
                ("student_name", child.clone()),
                ("class_name", class.clone()),
                ("date", day),
                ("content", text.clone()),
            ];
            let title = "Thông báo chuyên cần".to_owned();
            (title, text, template, true, format!("/notices/{notice}"))
        }
        About::Announcement {
            title,
            body,
            emergency,
        } => {
            let text = if *emergency {
                format!("THÔNG BÁO KHẨN: {title}. {}", excerpt(body))
            } else {
                excerpt(body)
            };
            let url = format!("/announcements/{notice}");
            (title.clone(), text, Vec::new(), *emergency, url)
        }
    };
    Some(Outgoing {
        delivery,
        notice_id: notice,
        recipient,
        title,
        text,
        url,
        urgent,
        phone,
        template,
    })
}

/// A day's announcements to one recipient as one message: how many, and their
/// titles.
pub(crate) fn digest(delivery: Uuid, recipient: Uuid, titles: &[&str]) -> Outgoing {
    let mut text = String::from("Tin trong ngày từ nhà trường:");
    for title in titles {
        text.push_str("\n- ");
        text.push_str(title);
    }
    Outgoing {
        delivery,
        notice_id: delivery,
        recipient,
        title: format!("lienlac: {} tin trong ngày", titles.len()),
        text,
        url: "/announcements".to_owned(),
        urgent: false,
        phone: None,
        template: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_is_cut_to_an_excerpt_and_an_emergency_says_so() {
        let long = "a".repeat(EXCERPT + 10);
        let about = About::Announcement {
            title: "Nghỉ học do bão".to_owned(),
            body: long,
            emergency: true,
        };
        let id = Uuid::now_v7();
        let message = one(&about, id, id, id, None, &HashMap::new()).unwrap();
        assert!(message.urgent);
        assert!(
            message
                .text
                .starts_with("THÔNG BÁO KHẨN: Nghỉ học do bão. ")
        );
        assert!(message.text.ends_with('…'));
        assert_eq!(message.url, format!("/announcements/{id}"));
    }

    #[test]
    fn an_absence_notice_whose_child_is_no_longer_named_is_not_sent() {
        let about = About::AbsenceNotice {
            student: Uuid::now_v7(),
            class: "1A1".to_owned(),
            date: time::macros::date!(2026 - 11 - 30),
            session: 1,
            status: 2,
            follow_up: false,
        };
        let id = Uuid::now_v7();
        assert!(one(&about, id, id, id, None, &HashMap::new()).is_none());
    }

    #[test]
    fn a_digest_lists_the_days_titles() {
        let id = Uuid::now_v7();
        let message = digest(id, id, &["Họp phụ huynh", "Thực đơn tuần"]);
        assert_eq!(message.title, "lienlac: 2 tin trong ngày");
        assert!(message.text.ends_with("\n- Họp phụ huynh\n- Thực đơn tuần"));
    }
}
