//! The public contract carries no personal data: after a whole demo seed (people
//! mirrored from the city database, accounts, roll calls, a month's totals sent
//! back, messages, posts, timetables, menus and announcements), every event on the
//! public subjects
//! decodes, and no field of any of them holds a seeded name, phone number or
//! birth date.

#![allow(clippy::unwrap_used, unreachable_pub)]

mod common;

use std::collections::HashSet;

use kernel::config::{ServiceId, stream_name_in, subject_root_in};
use kernel::testing::TestWorld;
use lienlac_test_stack::{start_attendance, start_city_database, start_messaging, start_sync};
use lienlac_test_support::{ADMIN_PASSWORD, start_identity};
use tokio_util::sync::CancellationToken;

use common::{Terminal, record_suggested_absence, text};

#[tokio::test(flavor = "multi_thread")]
async fn no_public_event_of_the_demo_holds_a_name_a_phone_or_a_birth_date() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let identity = start_identity(&world, &stop).await;
    let (attendance_addr, _) = start_attendance(&world, &stop, identity).await;
    let messaging = start_messaging(&world, &stop, identity, |_| {}).await;
    let city_database = start_city_database(&stop).await;
    let sync = start_sync(&world, &stop, identity, &city_database).await;
    let terminal = Terminal::new(&world.namespace, "seed", identity)
        .with_attendance(attendance_addr)
        .with_messaging(messaging)
        .with_sync(sync);
    let login = terminal
        .run(&["login", "admin"], Some(ADMIN_PASSWORD))
        .await;
    assert!(login.status.success(), "{}", text(&login.stderr));
    let seeded = terminal
        .run(&["seed", "demo", "--size", "small"], None)
        .await;
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    // The seed's absences are drawn at random; the step `make run` suggests
    // records one for certain, and its notice, before the streams are read.
    let teacher =
        Terminal::new(&world.namespace, "teacher", identity).with_attendance(attendance_addr);
    teacher
        .run(&["login", "gv.tanthong.1a1"], Some("lienlac-demo"))
        .await;
    record_suggested_absence(&teacher, &seeded.stdout).await;

    // What the seed registered, as identity keeps it.
    let mut conn = world.admin().await;
    let people: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT full_name, phone, birth_date::text FROM \"{}\".people",
            world.config(ServiceId::IDENTITY).schema
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut personal: HashSet<String> = HashSet::new();
    for (name, phone, birth_date) in people {
        personal.insert(name);
        if let Some(phone) = phone {
            personal.insert(phone.replacen("+84", "0", 1));
            personal.insert(phone);
        }
        personal.extend(birth_date);
    }
    assert!(
        personal.len() > 100,
        "the demo seeded people: {}",
        personal.len()
    );

    // One automaton finds any of the thousands of seeded values in a string at once.
    let personal_data = aho_corasick::AhoCorasick::new(&personal).unwrap();

    let jetstream = world.jetstream().await;
    let published = |service| {
        let jetstream = jetstream.clone();
        let name = stream_name_in(&world.namespace, service);
        async move {
            let info = jetstream
                .get_stream(name)
                .await
                .ok()?
                .get_info()
                .await
                .ok()?;
            Some(info.state.messages)
        }
    };
    // The absence's notice is messaging's event, recorded once its consumer has
    // handled the absence.
    let notices = format!(
        "SELECT count(*) FROM \"{}\".events WHERE event_type = 'AbsenceNoticeRaised'",
        world.config(ServiceId::MESSAGING).schema
    );
    let mut raised = 0_i64;
    for _ in 0..100 {
        raised = sqlx::query_scalar(sqlx::AssertSqlSafe(notices.clone()))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if raised > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(raised > 0, "no absence notice was raised");
    for (service, schema) in [
        (
            ServiceId::ATTENDANCE,
            world.config(ServiceId::ATTENDANCE).schema,
        ),
        (
            ServiceId::MESSAGING,
            world.config(ServiceId::MESSAGING).schema,
        ),
    ] {
        let stored: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{schema}\".events WHERE published_type IS NOT NULL"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        kernel::testing::eventually(
            "every event published",
            std::time::Duration::from_secs(20),
            || {
                let published = published(service);
                async move { (published.await? as i64 >= stored).then_some(()) }
            },
        )
        .await;
    }
    let mut checked = HashSet::new();
    for service in [
        ServiceId::IDENTITY,
        ServiceId::ATTENDANCE,
        ServiceId::MESSAGING,
        ServiceId::SYNC,
    ] {
        let public = format!("{}.", subject_root_in(&world.namespace, service));
        let stream = jetstream
            .get_stream(stream_name_in(&world.namespace, service))
            .await
            .unwrap();
        let last = stream.get_info().await.unwrap().state.last_sequence;
        for sequence in 1..=last {
            let message = stream.get_raw_message(sequence).await.unwrap();
            if !message.subject.starts_with(&public) {
                continue;
            }
            let event_type = message
                .headers
                .get("ce-type")
                .map(|value| value.as_str().to_owned())
                .unwrap_or_default();
            let fields = lienlac_proto::events::to_json(&event_type, &message.payload)
                .unwrap_or_else(|| panic!("{event_type} is not a published event"))
                .unwrap();
            let mut values = Vec::new();
            strings(&fields, &mut values);
            for value in values {
                if let Some(found) = personal_data.find(value) {
                    panic!(
                        "{event_type} #{sequence} holds {:?} in {value:?}",
                        &value[found.range()]
                    );
                }
            }
            checked.insert(event_type);
        }
    }
    for expected in [
        "lienlac.identity.v2.ClassRosterImported",
        "lienlac.identity.v2.StaffRegistered",
        "lienlac.identity.v2.AccountIssued",
        "lienlac.attendance.v2.RollCallSubmitted",
        "lienlac.attendance.v2.StudentAbsenceRecorded",
        "lienlac.messaging.v1.MessagePosted",
        "lienlac.messaging.v1.PostSubmitted",
        "lienlac.messaging.v1.PostRejected",
        "lienlac.messaging.v1.BulletinPublished",
        "lienlac.messaging.v1.AnnouncementPublished",
        "lienlac.messaging.v1.AbsenceNoticeRaised",
    ] {
        assert!(
            checked.contains(expected),
            "no {expected} among {checked:?}"
        );
    }
    stop.cancel();
}

/// Every string in `value`, however deep.
fn strings<'a>(value: &'a serde_json::Value, into: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(text) => into.push(text),
        serde_json::Value::Array(items) => items.iter().for_each(|item| strings(item, into)),
        serde_json::Value::Object(fields) => fields.values().for_each(|field| strings(field, into)),
        _ => {}
    }
}
