//! A read model rebuilt from the event history answers the same, and the old one
//! answers until the swap.

use std::time::Duration;

use kernel::testing::eventually;
use lienlac_proto::attendance::v1::AttendanceStatus::{AbsentExcused, AbsentUnexcused, Late};
use lienlac_proto::reporting::v1 as pb;
use tonic::Code;

use crate::helpers::{Stack, with_token};

#[tokio::test]
async fn rebuilding_replays_the_history_into_a_new_generation_and_swaps() {
    let stack = Stack::start().await;
    let (yesterday, today) = (stack.days_ago(1), stack.today());
    stack.submit(&yesterday, &[(2, AbsentUnexcused)]).await;
    stack
        .submit(&today, &[(0, AbsentExcused), (1, AbsentUnexcused)])
        .await;
    stack.correct(&today, 1, Late).await;
    let before_today = stack.until_morning_counts(&today, [1, 1, 0, 1]).await;
    let before_yesterday = stack.until_morning_counts(&yesterday, [2, 0, 1, 0]).await;

    let refused = stack
        .reporting
        .clone()
        .rebuild_projections(with_token(
            pb::RebuildProjectionsRequest {
                name: "attendance".into(),
            },
            &stack.principal,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    for name in ["attendance", "directory"] {
        let started = stack
            .reporting
            .clone()
            .rebuild_projections(with_token(
                pb::RebuildProjectionsRequest { name: name.into() },
                &stack.operator,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (started.generation, started.rebuilding_generation),
            (1, 2),
            "{name}"
        );
    }
    eventually("both rebuilds swap", Duration::from_secs(20), || async {
        let all = stack.projections().await;
        all.iter()
            .filter(|p| p.name == "attendance" || p.name == "directory")
            .all(|p| {
                p.generation == 2 && p.rebuilding_generation == 0 && !p.last_swapped_at.is_empty()
            })
            .then_some(())
    })
    .await;

    // The new generations answer exactly as the old ones did, and keep consuming.
    assert_eq!(
        stack
            .school_summary(&stack.principal, &today)
            .await
            .unwrap(),
        before_today
    );
    assert_eq!(
        stack
            .school_summary(&stack.principal, &yesterday)
            .await
            .unwrap(),
        before_yesterday
    );
    stack.correct(&today, 0, Late).await;
    stack.until_morning_counts(&today, [1, 0, 0, 2]).await;

    // The old generations are dropped after the grace period.
    eventually(
        "old generation schemas dropped",
        Duration::from_secs(30),
        || async {
            let left: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)")
                    .bind(
                        ["directory", "attendance"]
                            .map(|name| format!("{}_reporting_{name}_g1", stack.world.namespace)),
                    )
                    .fetch_one(&stack.reporting_pool)
                    .await
                    .ok()?;
            (left == 0).then_some(())
        },
    )
    .await;
}
