//! What lienlac knows of schools in Việt Nam, shared by the services that need it:
//!
//! - [`dates`]: the school date in Asia/Ho_Chi_Minh and the school year it falls in;
//! - [`text`]: Vietnamese names as people search for them;
//! - [`directory`]: identity's directory events in the tables every service that
//!   projects them keeps; [`enrolments`]: its enrolment events as periods in a class;
//! - [`roles`]: who is who in a school, the groups access rules are written from;
//! - [`read_log`]: who read a student's data, as every service that serves it answers;
//! - [`peers`], [`names`]: asking identity with the reader's token, or with the
//!   service's own ([`service_identity`]) for work no reader asks for.
//!
//! The kernel below it knows nothing of schools.

pub mod dates;
pub mod directory;
pub mod enrolments;
pub mod names;
pub mod peers;
pub mod read_log;
pub mod roles;
pub mod service_identity;
pub mod text;
