//! Who is calling and what they may do.
//!
//! Identity signs access tokens (EdDSA JWTs, [`claims::Claims`]) listing the caller's
//! role bindings; every service verifies them locally against identity's JWKS
//! ([`verifier::TokenVerifier`]), and each RPC asks whether the [`Caller`] holds one
//! of some roles over the scope it touches ([`Caller::holds`]).

mod authenticator;
mod caller;
mod claims;
mod jwks;
mod revocations;
mod verifier;

pub use authenticator::BearerAuthenticator;
pub use caller::{Caller, Target, caller};
pub use claims::{Binding, Claims, Role, ScopeKind, TOKEN_AUDIENCE, TOKEN_ISSUER};
pub use jwks::{IdentityJwks, JwksSource, ed25519_jwk, jwks_json};
pub use revocations::{LOOKBACK as REVOCATION_LOOKBACK, Revocations, follow as follow_revocations};
pub use verifier::{TokenVerifier, VerifyError};
