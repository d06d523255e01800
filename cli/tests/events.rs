//! `lienlac events tail` as an external subscriber runs it: identity's events for
//! one district, decoded, with their trace ids.

#![allow(clippy::unwrap_used, unreachable_pub)]

use std::time::Duration;

use kernel::testing::TestWorld;
use lienlac_test_support::{School, start_identity};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_one_districts_events_decoded_with_their_trace_ids() {
    let world = TestWorld::new();
    let stop = CancellationToken::new();
    let started = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let identity = start_identity(&world, &stop).await;
    let school = School::create(identity).await;

    let tail = tokio::process::Command::new(env!("CARGO_BIN_EXE_lienlac"))
        .args([
            "events",
            "tail",
            "--service",
            "identity",
            "--district",
            &school.district_id,
            "--since",
            &started
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            "--count",
            "3",
            "--json",
        ])
        .envs(world.nats_env())
        .env("LIENLAC_NAMESPACE", &world.namespace)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), tail)
        .await
        .expect("three events within 20 s")
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["type"], "lienlac.identity.v2.DistrictCreated");
    assert_eq!(events[0]["fields"]["name"], "Huyện Củ Chi");
    for event in &events {
        let subject = event["subject"].as_str().unwrap();
        assert!(subject.contains(&school.district_id), "{subject}");
        let trace_id = event["trace_id"].as_str().unwrap();
        assert_eq!(trace_id.len(), 32, "{event}");
        assert!(!event["fields"].to_string().contains("Hóc Môn"), "{event}");
    }
    assert_eq!(events[1]["type"], "lienlac.identity.v2.SchoolCreated");
    stop.cancel();
}
