//! Identity's event streams, and the events it stores and never publishes. What
//! its stored events hold beyond the published ones is sealed personal data
//! (personal_data.rs).

use uuid::Uuid;

/// Stream ids: one stream per district, school, class, person and account.
pub(crate) fn district_stream(id: Uuid) -> String {
    format!("district:{id}")
}

pub(crate) fn school_stream(id: Uuid) -> String {
    format!("school:{id}")
}

pub(crate) fn class_stream(id: Uuid) -> String {
    format!("class:{id}")
}

pub(crate) fn person_stream(id: Uuid) -> String {
    format!("person:{id}")
}

pub(crate) fn account_stream(id: Uuid) -> String {
    format!("account:{id}")
}

/// Events identity stores and never publishes.
pub(crate) mod internal {
    use serde::{Deserialize, Serialize};

    /// The platform operator's account, created at first start.
    pub(crate) const OPERATOR_ACCOUNT_CREATED: &str = "OperatorAccountCreated";
    /// An account given a new activation code: issued again, its password gone.
    pub(crate) const ACTIVATION_REISSUED: &str = "ActivationReissued";

    #[derive(Debug, Serialize, Deserialize)]
    pub(crate) struct OperatorAccountCreated {
        pub(crate) account_id: String,
        pub(crate) username: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub(crate) struct ActivationReissued {
        pub(crate) account_id: String,
    }
}
