//! The faults the suite injects, when, and how it does: each by the command
//! `<faults program> fault <name> inject|heal` (deploy/local/chaos.sh), which
//! knows the processes. Pure planning here; the run calls the program.

use std::time::Duration;

use crate::seed::plan::pick;

/// Services whose replicas are killed, each in turn.
pub(super) const SERVICES: [&str; 5] = ["identity", "attendance", "messaging", "reporting", "sync"];

/// From when a fault's recovery counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum MeasuredFrom {
    /// The system must carry on through the fault: from the moment it strikes.
    Inject,
    /// The system cannot serve (or publish) until it is repaired: from the repair.
    Heal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fault {
    /// As the faults program knows it: `kill-replica:attendance`.
    pub(super) name: String,
    /// How long the fault lasts before it is repaired (the dead restarted, the
    /// paused resumed).
    pub(super) hold: Duration,
    pub(super) measured_from: MeasuredFrom,
    /// The longest recovery that meets the goal.
    pub(super) goal: Duration,
}

impl Fault {
    /// Whether `name` names this fault: whole, or its kind before the service.
    fn is(&self, name: &str) -> bool {
        self.name == name
            || self
                .name
                .split_once(':')
                .is_some_and(|(kind, _)| kind == name)
    }
}

/// The faults' kinds, as `--only` takes them.
pub(super) const KINDS: [&str; 7] = [
    "kill-replica",
    "kill-replicas",
    "pause-replica",
    "kill-nats-node",
    "kill-nats-nodes",
    "restart-postgres",
    "pause-nats-node",
];

/// One round: every fault once.
fn round(number: usize) -> Vec<Fault> {
    let fault = |name: String, hold: u64, measured_from, goal: u64| Fault {
        name,
        hold: Duration::from_secs(hold),
        measured_from,
        goal: Duration::from_secs(goal),
    };
    let mut faults: Vec<Fault> = SERVICES
        .iter()
        .map(|service| {
            fault(
                format!("kill-replica:{service}"),
                3,
                MeasuredFrom::Inject,
                10,
            )
        })
        .collect();
    // Both replicas of one service at once: of another service each round,
    // attendance first.
    let both = SERVICES[(number + 1) % SERVICES.len()];
    faults.extend([
        fault(format!("kill-replicas:{both}"), 3, MeasuredFrom::Heal, 10),
        // A stalled replica of the service that takes the roll calls and
        // publishes them, longer than its relay's lock outlives silence: the
        // balancer and the other replica carry on without it.
        fault(
            "pause-replica:attendance".to_owned(),
            12,
            MeasuredFrom::Inject,
            10,
        ),
        fault("kill-nats-node".to_owned(), 5, MeasuredFrom::Inject, 10),
        // The cluster loses its quorum: roll calls are still accepted into
        // Postgres, and published once the nodes are back.
        fault("kill-nats-nodes".to_owned(), 10, MeasuredFrom::Heal, 10),
        fault("restart-postgres".to_owned(), 5, MeasuredFrom::Heal, 30),
        // Longer than the relay's publish timeout.
        fault("pause-nats-node".to_owned(), 12, MeasuredFrom::Heal, 10),
    ]);
    faults
}

/// A fault with the quiet time before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Planned {
    pub(super) fault: Fault,
    pub(super) after: Duration,
}

/// `rounds` rounds of every fault, each round in an order of the seed's, each
/// fault after a quiet time of `min_quiet` to twice that, also of the seed's.
/// With `only` named, just those faults (`kill-nats-node`, or `kill-replica`
/// for every service's).
pub(super) fn plan(rounds: usize, seed: u64, min_quiet: Duration, only: &[String]) -> Vec<Planned> {
    let mut planned = Vec::new();
    for number in 0..rounds {
        let mut faults = round(number);
        faults.retain(|fault| only.is_empty() || only.iter().any(|name| fault.is(name)));
        faults.sort_by_key(|fault| pick(&format!("{seed}:{number}:{}", fault.name), 1 << 30));
        for fault in faults {
            let extra = pick(&format!("{seed}:{number}:{}:quiet", fault.name), 1000) as u32;
            planned.push(Planned {
                after: min_quiet + min_quiet * extra / 1000,
                fault,
            });
        }
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_kills_each_service_both_replicas_of_a_different_one_and_pauses_attendance() {
        let quiet = Duration::from_secs(10);
        let planned = plan(2, 7, quiet, &[]);
        assert_eq!(planned.len(), 22);
        for (number, both) in [
            (0, "kill-replicas:attendance"),
            (1, "kill-replicas:messaging"),
        ] {
            let names: Vec<&str> = planned[number * 11..(number + 1) * 11]
                .iter()
                .map(|planned| planned.fault.name.as_str())
                .collect();
            for service in SERVICES {
                assert!(names.contains(&format!("kill-replica:{service}").as_str()));
            }
            for name in [
                both,
                "pause-replica:attendance",
                "kill-nats-node",
                "kill-nats-nodes",
                "restart-postgres",
                "pause-nats-node",
            ] {
                assert!(names.contains(&name), "{name} missing from round {number}");
            }
        }
        assert!(
            planned
                .iter()
                .all(|planned| planned.after >= quiet && planned.after < quiet * 2)
        );
    }

    #[test]
    fn only_the_named_faults_are_planned_by_name_or_kind() {
        let quiet = Duration::from_secs(1);
        let names = |only: &[&str]| -> Vec<String> {
            let only: Vec<String> = only.iter().map(|name| name.to_string()).collect();
            plan(2, 7, quiet, &only)
                .into_iter()
                .map(|planned| planned.fault.name)
                .collect()
        };
        assert_eq!(
            names(&["kill-nats-node"]),
            ["kill-nats-node", "kill-nats-node"]
        );
        let replicas = names(&["kill-replica"]);
        assert_eq!(replicas.len(), 2 * SERVICES.len());
        assert!(
            replicas
                .iter()
                .all(|name| name.starts_with("kill-replica:"))
        );
        assert_eq!(names(&["kill-replica:sync", "restart-postgres"]).len(), 4);
        assert!(names(&["kill-nats"]).is_empty());
        let every_kind: Vec<&str> = KINDS.to_vec();
        assert_eq!(names(&every_kind).len(), names(&[]).len());
    }

    #[test]
    fn the_seed_makes_the_order_and_another_seed_another() {
        let quiet = Duration::from_secs(10);
        assert_eq!(plan(1, 7, quiet, &[]), plan(1, 7, quiet, &[]));
        assert_ne!(plan(1, 7, quiet, &[]), plan(1, 8, quiet, &[]));
    }

    #[test]
    fn postgres_has_thirty_seconds_and_every_other_fault_ten() {
        for planned in plan(1, 1, Duration::from_secs(1), &[]) {
            let expected = if planned.fault.name == "restart-postgres" {
                30
            } else {
                10
            };
            assert_eq!(
                planned.fault.goal,
                Duration::from_secs(expected),
                "{}",
                planned.fault.name
            );
        }
    }
}
