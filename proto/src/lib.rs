//! The generated lienlac contract, mounted by package: `lienlac_proto::testing::v1`, …
//! The .proto files under `proto/lienlac/` are the published schema.

pub mod events;

/// The encoded `FileDescriptorSet` of every lienlac .proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/lienlac_descriptor.bin"));

/// The attendance service: roll calls and marks.
pub mod attendance {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.attendance.v1.rs"));
    }

    /// The public events, without free text (proto/lienlac/attendance/v2).
    #[allow(clippy::all, unreachable_pub)]
    pub mod v2 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.attendance.v2.rs"));
    }
}

/// The identity service: directory, accounts, tokens and role bindings.
pub mod identity {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.identity.v1.rs"));
    }

    /// The public events, without personal data (proto/lienlac/identity/v2).
    #[allow(clippy::all, unreachable_pub)]
    pub mod v2 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.identity.v2.rs"));
    }
}

/// The messaging service: class groups, staff groups, direct threads.
pub mod messaging {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.messaging.v1.rs"));
    }
}

/// Who read a child's data, and all of it in one document (docs/privacy.md).
pub mod privacy {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.privacy.v1.rs"));
    }
}

/// The reporting service: attendance and adoption read models, exports.
pub mod reporting {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.reporting.v1.rs"));
    }
}

pub mod sync {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.sync.v1.rs"));
    }
}

/// A minimal service and event that the kernel's tests use to drive the whole
/// command path (RPC, event store, relay, JetStream, consumer); not deployed.
pub mod testing {
    #[allow(clippy::all, unreachable_pub)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/lienlac.testing.v1.rs"));
    }
}
