//! The rules of delivery beyond the app, as pure functions: which channels a
//! notice goes out on and when, whether a fallback is still needed, when a
//! failed send is tried again, and how many parts an SMS takes.

use std::time::Duration;

use time::OffsetDateTime;

/// A way to reach a person beyond the app (the app itself always gets the
/// notice: the inbox and `Subscribe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Channel {
    /// Web Push to the person's browsers and installed apps; free.
    Push = 1,
    /// Email to an address the person registered; free.
    Email = 2,
    /// Zalo Notification Service template messages to their phone number; paid.
    Zalo = 3,
    /// SMS to their phone number; paid.
    Sms = 4,
}

impl Channel {
    pub(crate) const ALL: [Channel; 4] =
        [Channel::Push, Channel::Email, Channel::Zalo, Channel::Sms];

    /// The order when a person chose none: free before paid, Zalo before SMS
    /// (cheaper, and where parents already are).
    pub(crate) const DEFAULT_ORDER: [Channel; 4] =
        [Channel::Push, Channel::Email, Channel::Zalo, Channel::Sms];

    pub(crate) fn of(number: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| *c as i16 == number)
    }

    pub(crate) fn paid(self) -> bool {
        matches!(self, Channel::Zalo | Channel::Sms)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Channel::Push => "push",
            Channel::Email => "email",
            Channel::Zalo => "zalo",
            Channel::Sms => "sms",
        }
    }
}

/// What is known of a recipient when their notice is queued.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Registered a browser for push.
    pub(crate) push: bool,
    /// Registered an email address.
    pub(crate) email: bool,
    /// Has activated an account, so reads notices in the app.
    pub(crate) has_account: bool,
    /// The paid channels their school pays for and they did not STOP.
    pub(crate) paid: Vec<Channel>,
}

/// One delivery to queue: on `channel`, `after` the notice was raised; a
/// `fallback` is skipped if the notice was read (or delivered by a paid channel)
/// by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Planned {
    pub(crate) channel: Channel,
    pub(crate) after: Duration,
    pub(crate) fallback: bool,
}

/// The deliveries of one notice to one recipient. Free channels go at once. Paid
/// channels carry urgent notices only (absences, emergencies), one after the
/// other while the notice stays unread: the first `fallback_after` the notice
/// was raised, or at once for a recipient who cannot read it in the app.
pub(crate) fn plan(
    preferred: &[Channel],
    reach: &Reach,
    urgent: bool,
    fallback_after: Duration,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    let mut paid_before = 0u32;
    for &channel in preferred {
        let reachable = match channel {
            Channel::Push => reach.push,
            Channel::Email => reach.email,
            Channel::Zalo | Channel::Sms => urgent && reach.paid.contains(&channel),
        };
        if !reachable || planned.iter().any(|p: &Planned| p.channel == channel) {
            continue;
        }
        if channel.paid() {
            let turn = paid_before + u32::from(reach.has_account);
            planned.push(Planned {
                channel,
                after: fallback_after * turn,
                fallback: turn > 0,
            });
            paid_before += 1;
        } else {
            planned.push(Planned {
                channel,
                after: Duration::ZERO,
                fallback: false,
            });
        }
    }
    planned
}

/// The hours, local time, during which messages that are not urgent wait: from
/// 21:00 to 06:00.
pub(crate) const QUIET_FROM_HOUR: u8 = 21;
pub(crate) const QUIET_UNTIL_HOUR: u8 = 6;
/// The local hour of the daily digest.
pub(crate) const DIGEST_HOUR: u8 = 19;

/// The first instant at or after `at` whose local hour is `hour`.
fn next_local_hour(at: OffsetDateTime, hour: u8) -> OffsetDateTime {
    let day = school::dates::local_date(at);
    let today = school::dates::local_day_start(day) + time::Duration::hours(i64::from(hour));
    if today >= at {
        today
    } else {
        today + time::Duration::days(1)
    }
}

/// When a delivery planned for `at` goes out, and whether in the recipient's
/// digest: an urgent one then; one for a recipient who chose the digest at the
/// next 19:00; any other after quiet hours if `at` falls in them.
pub(crate) fn release(at: OffsetDateTime, urgent: bool, digest: bool) -> (OffsetDateTime, bool) {
    if urgent {
        return (at, false);
    }
    if digest {
        return (next_local_hour(at, DIGEST_HOUR), true);
    }
    let local_hour = (at.to_offset(time::UtcOffset::UTC) + time::Duration::hours(7)).hour();
    if (QUIET_UNTIL_HOUR..QUIET_FROM_HOUR).contains(&local_hour) {
        (at, false)
    } else {
        (next_local_hour(at, QUIET_UNTIL_HOUR), false)
    }
}

/// What has happened to a notice by the time one of its deliveries is due.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Since {
    /// The notice was withdrawn (corrected to present before anything went out).
    pub(crate) withdrawn: bool,
    /// The recipient sent STOP on this channel.
    pub(crate) stopped: bool,
    pub(crate) read_in_app: bool,
    /// A paid channel's provider said it reached the phone.
    pub(crate) delivered_by_paid: bool,
}

/// Whether a delivery (a `fallback` or not) is still to be sent when it is due.
pub(crate) fn still_needed(fallback: bool, since: Since) -> bool {
    !since.withdrawn
        && !since.stopped
        && !(fallback && (since.read_in_app || since.delivered_by_paid))
}

/// The most attempts a delivery gets before it is a dead letter.
pub(crate) const MAX_ATTEMPTS: i32 = 6;

/// When to try again after the `attempts`-th attempt failed (the provider's
/// `Retry-After` if it gave one): 30 s, 1, 2, 4, 8 minutes; none after the last.
pub(crate) fn retry_after(attempts: i32, hinted: Option<Duration>) -> Option<Duration> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let backoff = Duration::from_secs(30) * 2u32.pow(attempts.clamp(1, 16) as u32 - 1);
    Some(hinted.unwrap_or(backoff).min(Duration::from_secs(3600)))
}

/// How many SMS a text takes: 160 characters of the GSM alphabet's ASCII part
/// (153 a part when split), else 70 UCS-2 characters (67 a part), as Vietnamese
/// with its diacritics is sent.
pub(crate) fn sms_segments(text: &str) -> u32 {
    let gsm = text
        .chars()
        .all(|c| c.is_ascii_graphic() || c == ' ' || c == '\n');
    let length = text.chars().count() as u32;
    let (single, part) = if gsm { (160, 153) } else { (70, 67) };
    if length <= single {
        1
    } else {
        length.div_ceil(part)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Channel::*;

    const WAIT: Duration = Duration::from_secs(15 * 60);

    /// A planned delivery as (channel, minutes after, fallback).
    type Minutes = (Channel, u64, bool);
    /// A case: what it shows, the order chosen, the reach, urgent, the plan.
    type Case<'a> = (&'a str, &'a [Channel], &'a Reach, bool, Vec<Minutes>);

    fn planned(plan: &[Planned]) -> Vec<Minutes> {
        plan.iter()
            .map(|p| (p.channel, p.after.as_secs() / 60, p.fallback))
            .collect()
    }

    #[test]
    fn given_a_recipient_and_a_notice_then_the_channels_and_their_times_follow() {
        let everything = Reach {
            push: true,
            email: true,
            has_account: true,
            paid: vec![Zalo, Sms],
        };
        let no_account = Reach {
            push: false,
            email: false,
            has_account: false,
            paid: vec![Zalo, Sms],
        };
        let sms_only = Reach {
            paid: vec![Sms],
            ..everything.clone()
        };
        let table: [Case<'_>; 7] = [
            (
                "urgent: free at once, paid one after the other while unread",
                &Channel::DEFAULT_ORDER,
                &everything,
                true,
                vec![
                    (Push, 0, false),
                    (Email, 0, false),
                    (Zalo, 15, true),
                    (Sms, 30, true),
                ],
            ),
            (
                "not urgent: free channels only",
                &Channel::DEFAULT_ORDER,
                &everything,
                false,
                vec![(Push, 0, false), (Email, 0, false)],
            ),
            (
                "no account: the first paid channel at once",
                &Channel::DEFAULT_ORDER,
                &no_account,
                true,
                vec![(Zalo, 0, false), (Sms, 15, true)],
            ),
            (
                "their order: SMS before Zalo",
                &[Sms, Zalo, Push],
                &everything,
                true,
                vec![(Sms, 15, true), (Zalo, 30, true), (Push, 0, false)],
            ),
            (
                "the school pays for SMS only, or they stopped Zalo",
                &Channel::DEFAULT_ORDER,
                &sms_only,
                true,
                vec![(Push, 0, false), (Email, 0, false), (Sms, 15, true)],
            ),
            (
                "a channel chosen twice counts once",
                &[Push, Push],
                &everything,
                true,
                vec![(Push, 0, false)],
            ),
            (
                "nothing reachable: the app alone",
                &Channel::DEFAULT_ORDER,
                &Reach::default(),
                true,
                vec![],
            ),
        ];
        for (case, preferred, reach, urgent, expected) in table {
            assert_eq!(
                planned(&plan(preferred, reach, urgent, WAIT)),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn given_what_happened_since_then_a_delivery_is_still_needed_or_skipped() {
        // (fallback, withdrawn, stopped, read in the app, delivered by a paid
        // channel) → needed
        let table = [
            ((false, false, false, true, true), true),
            ((true, false, false, false, false), true),
            ((true, false, false, true, false), false),
            ((true, false, false, false, true), false),
            ((false, true, false, false, false), false),
            ((true, true, false, false, false), false),
            ((false, false, true, false, false), false),
        ];
        for ((fallback, withdrawn, stopped, read_in_app, delivered_by_paid), expected) in table {
            let since = Since {
                withdrawn,
                stopped,
                read_in_app,
                delivered_by_paid,
            };
            assert_eq!(
                still_needed(fallback, since),
                expected,
                "{fallback} {since:?}"
            );
        }
    }

    #[test]
    fn given_an_hour_then_a_message_goes_now_after_quiet_hours_or_in_the_digest() {
        use time::macros::datetime;
        // (local time planned, urgent, digest) → (local time sent, in the digest)
        let local = |at: OffsetDateTime| at.to_offset(time::macros::offset!(+7));
        let table = [
            (
                datetime!(2026-11-30 10:00 +7),
                false,
                false,
                datetime!(2026-11-30 10:00 +7),
                false,
            ),
            (
                datetime!(2026-11-30 21:00 +7),
                false,
                false,
                datetime!(2026-12-01 06:00 +7),
                false,
            ),
            (
                datetime!(2026-11-30 23:30 +7),
                false,
                false,
                datetime!(2026-12-01 06:00 +7),
                false,
            ),
            (
                datetime!(2026-12-01 05:59 +7),
                false,
                false,
                datetime!(2026-12-01 06:00 +7),
                false,
            ),
            (
                datetime!(2026-12-01 06:00 +7),
                false,
                false,
                datetime!(2026-12-01 06:00 +7),
                false,
            ),
            (
                datetime!(2026-11-30 23:30 +7),
                true,
                false,
                datetime!(2026-11-30 23:30 +7),
                false,
            ),
            (
                datetime!(2026-11-30 23:30 +7),
                true,
                true,
                datetime!(2026-11-30 23:30 +7),
                false,
            ),
            (
                datetime!(2026-11-30 10:00 +7),
                false,
                true,
                datetime!(2026-11-30 19:00 +7),
                true,
            ),
            (
                datetime!(2026-11-30 19:30 +7),
                false,
                true,
                datetime!(2026-12-01 19:00 +7),
                true,
            ),
        ];
        for (at, urgent, digest, sent, in_digest) in table {
            let (when, digested) = release(at.to_offset(time::UtcOffset::UTC), urgent, digest);
            assert_eq!(
                (local(when), digested),
                (sent, in_digest),
                "{at} {urgent} {digest}"
            );
        }
    }

    #[test]
    fn failed_sends_back_off_then_become_dead_letters() {
        let minutes = |attempts, hint| retry_after(attempts, hint).map(|d| d.as_secs());
        assert_eq!(minutes(1, None), Some(30));
        assert_eq!(minutes(2, None), Some(60));
        assert_eq!(minutes(5, None), Some(480));
        assert_eq!(
            minutes(3, Some(Duration::from_secs(7))),
            Some(7),
            "Retry-After"
        );
        assert_eq!(
            minutes(3, Some(Duration::from_secs(86_400))),
            Some(3600),
            "capped"
        );
        assert_eq!(minutes(MAX_ATTEMPTS, None), None);
    }

    #[test]
    fn sms_segments_count_vietnamese_as_ucs2() {
        assert_eq!(sms_segments("Thong bao: em Phuc vang mat"), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"ă".repeat(70)), 1);
        assert_eq!(sms_segments(&"ă".repeat(71)), 2);
        assert_eq!(
            sms_segments(
                "Thông báo: em Nguyễn Gia Phúc (lớp 1A1) vắng buổi sáng ngày 30/11/2026, không phép."
            ),
            2
        );
    }
}
