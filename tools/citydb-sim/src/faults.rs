//! Faults the simulator injects, as a real city database shows them on a bad
//! morning: slow answers, server errors, throttling with `Retry-After`, pages
//! served twice and items out of order. Each is counted in requests (every n-th
//! request), so a test knows what it asked for and a run can be repeated.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Every n-th request answers only after `slow_for` (past a client's timeout).
    pub timeout_every: u64,
    /// Every n-th request fails with 500.
    pub error_every: u64,
    /// Every n-th request is refused with 429 and `Retry-After: retry_after_secs`.
    pub throttle_every: u64,
    /// Every n-th page is served with a cursor to itself, so it comes twice.
    pub duplicate_page_every: u64,
    /// Each page lists its items in reverse order.
    pub reorder: bool,
    pub slow_for_ms: u64,
    pub retry_after_secs: u64,
}

/// What the n-th request (from 1) meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Slow(Duration),
    ServerError,
    Throttled { retry_after_secs: u64 },
}

impl Faults {
    /// The faults of `CITYDB_FAULTS`: `timeout=7,error=5,throttle=3,duplicate=4,reorder`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut faults = Faults {
            slow_for_ms: 5_000,
            retry_after_secs: 1,
            ..Faults::default()
        };
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = entry.split_once('=').unwrap_or((entry, "1"));
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| format!("{name}={value}: not a number"))
            };
            match name {
                "timeout" => faults.timeout_every = number()?,
                "error" => faults.error_every = number()?,
                "throttle" => faults.throttle_every = number()?,
                "duplicate" => faults.duplicate_page_every = number()?,
                "reorder" => faults.reorder = value != "0",
                "slow_ms" => faults.slow_for_ms = number()?,
                "retry_after" => faults.retry_after_secs = number()?,
                _ => {
                    return Err(format!(
                        "{name}: not a fault (timeout, error, throttle, duplicate, reorder, slow_ms, retry_after)"
                    ));
                }
            }
        }
        Ok(faults)
    }

    /// The fault of the `n`-th request; a throttle before an error before a slow answer.
    pub fn of_request(&self, n: u64) -> Fault {
        let every = |period: u64| period > 0 && n.is_multiple_of(period);
        if every(self.throttle_every) {
            Fault::Throttled {
                retry_after_secs: self.retry_after_secs,
            }
        } else if every(self.error_every) {
            Fault::ServerError
        } else if every(self.timeout_every) {
            Fault::Slow(Duration::from_millis(self.slow_for_ms))
        } else {
            Fault::None
        }
    }

    /// Whether the `n`-th page served comes again.
    pub fn repeats_page(&self, n: u64) -> bool {
        self.duplicate_page_every > 0 && n.is_multiple_of(self.duplicate_page_every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_fault_comes_on_its_own_requests_and_a_throttle_wins_a_tie() {
        let faults = Faults::parse("timeout=2,error=3,throttle=5,slow_ms=10").unwrap();
        let seen: Vec<Fault> = (1..=6).map(|n| faults.of_request(n)).collect();
        let slow = Fault::Slow(Duration::from_millis(10));
        assert_eq!(
            seen,
            [
                Fault::None,
                slow,
                Fault::ServerError,
                slow,
                Fault::Throttled {
                    retry_after_secs: 1
                },
                Fault::ServerError,
            ]
        );
        assert_eq!(Faults::parse("").unwrap().of_request(10), Fault::None);
    }

    #[test]
    fn a_fault_list_names_what_is_wrong() {
        assert!(
            Faults::parse("flood=2")
                .unwrap_err()
                .contains("not a fault")
        );
        assert!(
            Faults::parse("error=often")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(Faults::parse("reorder").unwrap().reorder);
        assert!(Faults::parse("duplicate=4").unwrap().repeats_page(8));
    }
}
