//! The rules of signing in and activating, without I/O: given where the account
//! stands and whether the secret matched, who is let in, what the answer says,
//! and how the failure counts towards a lock.
//!
//! An unknown username, an account not yet activated and a wrong password get one
//! answer. A locked account answers "locked" whatever the secret, so the lock is no
//! oracle for guessing it, and failures during a lock still count (reaching the
//! limit again starts the lock again).

use crate::account_state::AccountStatus;

/// What the rules need to know of the account, found by the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Standing {
    pub(crate) status: Option<AccountStatus>,
    /// Locked by an administrator, or for failed attempts until a time not reached.
    pub(crate) locked: bool,
    pub(crate) failed_attempts: i32,
    pub(crate) activation_expired: bool,
}

/// What the rules decide of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let in; earlier failures are forgotten.
    Admit,
    /// Refused with this answer, and the failure counted so (if it was one).
    Refuse {
        answer: Refusal,
        failure: Option<Failure>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The same answer for an unknown username, an account without a password and
    /// a wrong password.
    BadCredentials,
    /// The same answer for an unknown username, an account activated already and a
    /// wrong code.
    WrongActivationCode,
    Locked,
    ActivationExpired,
}

/// How a failed attempt counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The account's failures now number this.
    Counted(i32),
    /// The last failure allowed: the account is locked for a while, its count reset.
    LockStarts,
}

/// A failed attempt on an account that had failed `before` times.
pub(crate) fn failure(before: i32, attempts_allowed: i32) -> Failure {
    if before + 1 < attempts_allowed {
        Failure::Counted(before + 1)
    } else {
        Failure::LockStarts
    }
}

/// A sign-in with a password that matched the account's, or not.
pub(crate) fn sign_in(
    standing: &Standing,
    password_matches: bool,
    attempts_allowed: i32,
) -> Verdict {
    if !password_matches {
        return Verdict::Refuse {
            answer: if standing.locked {
                Refusal::Locked
            } else {
                Refusal::BadCredentials
            },
            failure: Some(failure(standing.failed_attempts, attempts_allowed)),
        };
    }
    if standing.locked {
        return Verdict::Refuse {
            answer: Refusal::Locked,
            failure: None,
        };
    }
    Verdict::Admit
}

/// An activation with a code that matched the one stored, or not.
pub(crate) fn activation(
    standing: &Standing,
    code_matches: bool,
    attempts_allowed: i32,
) -> Verdict {
    let valid = standing.status == Some(AccountStatus::Issued) && code_matches;
    if !valid {
        return Verdict::Refuse {
            answer: if standing.locked {
                Refusal::Locked
            } else {
                Refusal::WrongActivationCode
            },
            failure: Some(failure(standing.failed_attempts, attempts_allowed)),
        };
    }
    if standing.locked {
        return Verdict::Refuse {
            answer: Refusal::Locked,
            failure: None,
        };
    }
    if standing.activation_expired {
        return Verdict::Refuse {
            answer: Refusal::ActivationExpired,
            failure: None,
        };
    }
    Verdict::Admit
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: i32 = 5;

    fn standing(status: AccountStatus, locked: bool, failed_attempts: i32) -> Standing {
        Standing {
            status: Some(status),
            locked,
            failed_attempts,
            activation_expired: false,
        }
    }

    fn refused(answer: Refusal, failure: Option<Failure>) -> Verdict {
        Verdict::Refuse { answer, failure }
    }

    #[test]
    fn given_an_account_when_a_password_is_tried_then_this_verdict() {
        use AccountStatus::{Active, Issued};
        use Refusal::{BadCredentials, Locked};
        let table = [
            (
                "the right password lets in",
                standing(Active, false, 0),
                true,
                Verdict::Admit,
            ),
            (
                "earlier failures do not keep the owner out",
                standing(Active, false, 4),
                true,
                Verdict::Admit,
            ),
            (
                "a wrong password counts",
                standing(Active, false, 0),
                false,
                refused(BadCredentials, Some(Failure::Counted(1))),
            ),
            (
                "the fourth failure still counts",
                standing(Active, false, 3),
                false,
                refused(BadCredentials, Some(Failure::Counted(4))),
            ),
            (
                "the fifth failure locks",
                standing(Active, false, 4),
                false,
                refused(BadCredentials, Some(Failure::LockStarts)),
            ),
            (
                "a locked account answers locked to the right password",
                standing(Active, true, 0),
                true,
                refused(Locked, None),
            ),
            (
                "and to a wrong one, which counts",
                standing(Active, true, 2),
                false,
                refused(Locked, Some(Failure::Counted(3))),
            ),
            (
                "five failures during a lock start it again",
                standing(Active, true, 4),
                false,
                refused(Locked, Some(Failure::LockStarts)),
            ),
            (
                "an account not activated has no password to match",
                standing(Issued, false, 0),
                false,
                refused(BadCredentials, Some(Failure::Counted(1))),
            ),
        ];
        for (name, standing, matches, verdict) in table {
            assert_eq!(sign_in(&standing, matches, ALLOWED), verdict, "{name}");
        }
    }

    #[test]
    fn given_an_account_when_an_activation_code_is_tried_then_this_verdict() {
        use AccountStatus::{Active, Issued};
        use Refusal::{ActivationExpired, Locked, WrongActivationCode};
        let expired = Standing {
            activation_expired: true,
            ..standing(Issued, false, 0)
        };
        let table = [
            (
                "the right code activates",
                standing(Issued, false, 0),
                true,
                Verdict::Admit,
            ),
            (
                "a wrong code counts",
                standing(Issued, false, 1),
                false,
                refused(WrongActivationCode, Some(Failure::Counted(2))),
            ),
            (
                "an activated account answers as a wrong code, and counts",
                standing(Active, false, 0),
                true,
                refused(WrongActivationCode, Some(Failure::Counted(1))),
            ),
            (
                "the fifth wrong code locks",
                standing(Issued, false, 4),
                false,
                refused(WrongActivationCode, Some(Failure::LockStarts)),
            ),
            (
                "a locked account answers locked to the right code",
                standing(Issued, true, 0),
                true,
                refused(Locked, None),
            ),
            (
                "and to a wrong one, which counts",
                standing(Issued, true, 0),
                false,
                refused(Locked, Some(Failure::Counted(1))),
            ),
            (
                "an expired code is refused as expired, without counting",
                expired,
                true,
                refused(ActivationExpired, None),
            ),
            (
                "a wrong code on an expired one is just wrong",
                expired,
                false,
                refused(WrongActivationCode, Some(Failure::Counted(1))),
            ),
        ];
        for (name, standing, matches, verdict) in table {
            assert_eq!(activation(&standing, matches, ALLOWED), verdict, "{name}");
        }
    }

    #[test]
    fn an_unknown_status_neither_activates_nor_lets_in_without_its_password() {
        let unknown = Standing {
            status: None,
            locked: false,
            failed_attempts: 0,
            activation_expired: false,
        };
        assert!(matches!(
            activation(&unknown, true, ALLOWED),
            Verdict::Refuse {
                answer: Refusal::WrongActivationCode,
                ..
            }
        ));
        assert_eq!(AccountStatus::parse("issued"), Some(AccountStatus::Issued));
        assert_eq!(
            AccountStatus::parse(AccountStatus::Active.as_str()),
            Some(AccountStatus::Active)
        );
        assert_eq!(AccountStatus::parse("disabled"), None);
    }
}
