//! What travels between the simulated world's actors, and the ground truth a verification carries.

use actix::Message;
use failover_router::{AttemptOutcome, NumberType, ProviderId, VerificationId};
use std::time::Duration;
use tokio::sync::oneshot;

use tokio::time::Instant;

use crate::scenario::{CarrierId, CountryId};
use crate::sim::rng::mix64;

/// The world's truth about a destination, packed into the verification id the simulator hands
/// the router. The router treats ids as opaque; packing avoids a side table keyed by id.
///
/// Layout: `seq << 24 | carrier << 8 | flags` (seq: arrival order, 40 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimTag {
    /// Arrival order (ids grow with start time).
    pub seq: u64,
    pub carrier: CarrierId,
    /// The number does not exist.
    pub invalid: bool,
    /// Fraudulent traffic: never converts.
    pub fraud: bool,
}

impl SimTag {
    pub fn pack(self) -> VerificationId {
        debug_assert!(self.seq < 1 << 40 && self.carrier.0 < 1 << 16);
        VerificationId(
            self.seq << 24
                | u64::from(self.carrier.0) << 8
                | u64::from(self.invalid)
                | u64::from(self.fraud) << 1,
        )
    }

    pub fn unpack(id: VerificationId) -> SimTag {
        SimTag {
            seq: id.0 >> 24,
            carrier: CarrierId(((id.0 >> 8) & 0xffff) as u32),
            invalid: id.0 & 1 != 0,
            fraud: id.0 & 2 != 0,
        }
    }
}

/// One attempt as the world sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Envelope {
    pub provider: ProviderId,
    pub country: CountryId,
    pub carrier: CarrierId,
    pub number_type: NumberType,
    pub invalid: bool,
    /// Identifies (verification, attempt number): keys the attempt's own random draws, so the
    /// same attempt sees the same world whatever happened to other traffic (common random
    /// numbers across policies).
    pub key: u64,
}

impl Envelope {
    pub(crate) fn attempt_key(tag: SimTag, number: u32) -> u64 {
        mix64(tag.seq.wrapping_mul(64).wrapping_add(u64::from(number)))
    }
}

pub(crate) type Reply = oneshot::Sender<AttemptOutcome>;

/// Router -> region: an attempt leaves for the provider's endpoint.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Submit {
    pub env: Envelope,
    /// The router's attempt timeout: the attempt completes, from the router's view, by then.
    pub timeout: Duration,
    pub reply: Reply,
}

/// Region -> provider: the request reaches the provider's API at `arrives`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Arrive {
    pub env: Envelope,
    pub arrives: Instant,
    /// When the router judges the attempt a timeout if nothing came back.
    pub judged_at: Instant,
    pub reply: Reply,
}

/// Provider -> carrier: an accepted message handed over at `handoff`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Handoff {
    pub env: Envelope,
    pub handoff: Instant,
    /// Delivery probability on this provider's path, provider-side losses folded in.
    pub path_quality: f64,
    /// Provider-side latency effects on the delivery leg.
    pub latency_factor: f64,
    pub added_secs: f64,
    /// The attempt holds one of the provider's numbers until it completes from the router's
    /// view: its outcome reaches the router, or the router's timeout (`judged_at`) judges it,
    /// whichever is first. `None`: no number, or one held for a fixed time.
    pub held_until_judged: Option<Instant>,
    pub reply: Reply,
}

/// Carrier -> provider: the number an attempt holds is free again at this time (the carrier
/// knows at hand-off when the outcome will reach the router).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ReleaseAt(pub Instant);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_keep_arrival_order() {
        let t = SimTag {
            seq: 123_456_789,
            carrier: CarrierId(4242),
            invalid: true,
            fraud: false,
        };
        assert_eq!(SimTag::unpack(t.pack()), t);
        let later = SimTag {
            seq: t.seq + 1,
            carrier: CarrierId(0),
            invalid: false,
            fraud: true,
        };
        assert!(later.pack() > t.pack());
        assert_eq!(SimTag::unpack(later.pack()), later);
    }
}
