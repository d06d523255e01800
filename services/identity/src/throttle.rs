//! Limits on sign-in attempts, so that usernames (phone numbers, easy to list)
//! cannot be sprayed with guesses: a token bucket per username and one per client
//! address, kept in memory by each replica. A refused attempt costs a map lookup,
//! never a password hash.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bucket's shape: `burst` attempts at once, then one every `refill_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub burst: u32,
    pub refill_every: Duration,
}

/// One key's bucket: how full it was at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token at `now`, or says how long until one is there.
    fn take(&mut self, rate: Rate, now: Instant) -> Result<(), Duration> {
        let refill = rate.refill_every.as_secs_f64().max(f64::MIN_POSITIVE);
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed / refill).min(f64::from(rate.burst));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) * refill))
        }
    }

    /// Whether the bucket has refilled to its burst by `now`: forgetting it then
    /// changes nothing.
    fn full(&self, rate: Rate, now: Instant) -> bool {
        let refill = rate.refill_every.as_secs_f64().max(f64::MIN_POSITIVE);
        self.tokens + now.saturating_duration_since(self.at).as_secs_f64() / refill
            >= f64::from(rate.burst)
    }
}

/// Token buckets by key, at most `max_keys` remembered: past that, buckets that
/// have refilled are forgotten, and if that is not enough, all of them (the
/// other limiter and the hashing queue still hold).
pub(crate) struct Limiter<K> {
    rate: Rate,
    max_keys: usize,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub(crate) fn new(rate: Rate, max_keys: usize) -> Self {
        Self {
            rate,
            max_keys,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// One attempt for `key` at `now`: allowed, or refused with the time to wait.
    pub(crate) fn attempt(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= self.max_keys && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| !bucket.full(self.rate, now));
            if buckets.len() >= self.max_keys {
                buckets.clear();
            }
        }
        buckets
            .entry(key.clone())
            .or_insert(Bucket {
                tokens: f64::from(self.rate.burst),
                at: now,
            })
            .take(self.rate, now)
    }
}

/// How many keys each limiter remembers (about 100 bytes each).
const MAX_KEYS: usize = 100_000;

/// The two limits every sign-in path (`Login`, `ActivateAccount`, `Refresh`)
/// passes before it does any work.
pub struct SignInThrottle {
    by_username: Limiter<String>,
    by_address: Limiter<IpAddr>,
}

impl SignInThrottle {
    pub fn new(per_username: Rate, per_address: Rate) -> Self {
        Self {
            by_username: Limiter::new(per_username, MAX_KEYS),
            by_address: Limiter::new(per_address, MAX_KEYS),
        }
    }

    /// One attempt from `address` for `username` (normalised): RESOURCE_EXHAUSTED
    /// with the time to wait when either limit is reached.
    pub fn attempt(
        &self,
        address: Option<IpAddr>,
        username: Option<&str>,
    ) -> Result<(), tonic::Status> {
        let now = Instant::now();
        let refused = |wait: Duration| {
            let seconds = wait.as_secs_f64().ceil().max(1.0);
            kernel::grpc::retry_later(
                format!("too many sign-in attempts; try again in {seconds} seconds"),
                Duration::from_secs_f64(seconds),
            )
        };
        if let Some(address) = address {
            self.by_address
                .attempt(&client(address), now)
                .map_err(refused)?;
        }
        if let Some(username) = username {
            self.by_username
                .attempt(&username.to_owned(), now)
                .map_err(refused)?;
        }
        Ok(())
    }
}

/// The client an address stands for: an IPv4 address, or an IPv6 /64 (one home
/// or office network gets a whole /64).
fn client(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3,
        refill_every: Duration::from_secs(10),
    };

    #[test]
    fn a_bucket_allows_its_burst_then_one_attempt_per_refill() {
        let limiter = Limiter::new(RATE, 100);
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        // (time, allowed, wait when refused)
        let table = [
            (0, true, None),
            (0, true, None),
            (0, true, None),
            (0, false, Some(10)),
            (4, false, Some(6)),
            (10, true, None),
            (10, false, Some(10)),
            (60, true, None),
            (60, true, None),
            (60, true, None),
            (60, false, Some(10)),
        ];
        for (seconds, allowed, wait) in table {
            let outcome = limiter.attempt(&"0912345678", at(seconds));
            assert_eq!(outcome.is_ok(), allowed, "at {seconds} s");
            if let Some(wait) = wait {
                let waited = outcome.unwrap_err().as_secs_f64();
                assert!(
                    (waited - wait as f64).abs() < 0.01,
                    "at {seconds} s: {waited}"
                );
            }
        }
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_is_the_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client(a), client(b));
        assert_ne!(client(a), client(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_refused_attempt_is_resource_exhausted_with_when_to_retry() {
        use tonic_types::StatusExt as _;
        let throttle = SignInThrottle::new(RATE, RATE);
        for _ in 0..3 {
            throttle.attempt(None, Some("0912345678")).unwrap();
        }
        let status = throttle.attempt(None, Some("0912345678")).unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let retry = status.get_details_retry_info().unwrap();
        assert_eq!(retry.retry_delay, Some(Duration::from_secs(10)));
    }

    #[test]
    fn keys_have_buckets_of_their_own() {
        let limiter = Limiter::new(RATE, 100);
        let now = Instant::now();
        for _ in 0..3 {
            limiter.attempt(&"a", now).unwrap();
        }
        assert!(limiter.attempt(&"a", now).is_err());
        assert!(limiter.attempt(&"b", now).is_ok());
    }

    #[test]
    fn remembered_keys_stay_bounded_and_refilled_buckets_go_first() {
        let limiter = Limiter::new(RATE, 2);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.attempt(&"spent", start).unwrap();
        }
        limiter.attempt(&"once", start).unwrap();
        // Thirty seconds on, "once" has refilled and is forgotten; "spent" has
        // refilled too. A third key makes room by dropping them.
        let later = start + Duration::from_secs(30);
        limiter.attempt(&"third", later).unwrap();
        assert!(limiter.buckets.lock().unwrap().len() <= 2);
        // Within the limit nothing is forgotten.
        let limiter = Limiter::new(RATE, 2);
        for _ in 0..3 {
            limiter.attempt(&"spent", start).unwrap();
        }
        assert!(limiter.attempt(&"spent", start).is_err());
    }
}
