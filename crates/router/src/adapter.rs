//! The one seam between the router and the outside world.
//!
//! Like tower's `Service`, the trait is deliberately tiny: send one attempt, get a future of its
//! outcome. Everything else (timeouts, retries, health, cost) is the router's business, so an
//! adapter for a new provider is a few lines of HTTP client code, and the lab's simulated
//! providers implement exactly the same trait as production ones. The trait is object safe so
//! heterogeneous providers live side by side as `Arc<dyn ProviderAdapter>`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::route::{Country, NumberType, RouteId};

/// Identifies one verification (one code to deliver), chosen by the embedder.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VerificationId(pub u64);

/// Identifies one attempt, unique within a router.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttemptId(pub u64);

/// A destination phone number. It never prints in clear: `Debug`, `Display` and `Serialize`
/// all show the masked form (country prefix and last two digits), so it cannot leak into logs or
/// audit trails by accident. Adapters read the real number with [`Destination::expose`].
#[derive(Clone)]
pub struct Destination {
    number: Arc<str>,
    /// The masked form, computed once when the destination is built: every verification puts
    /// it in its events, and a destination is typically built once and cloned per attempt.
    masked: MaskedDestination,
}

impl Destination {
    pub fn new(number: impl Into<Arc<str>>) -> Self {
        let number = number.into();
        let masked = MaskedDestination::of(&number);
        Destination { number, masked }
    }

    /// The number in clear, for the adapter that must send to it. Never log this.
    pub fn expose(&self) -> &str {
        &self.number
    }

    pub fn masked(&self) -> MaskedDestination {
        self.masked
    }
}

// Equality and hashing are the number's: the mask is derived from it.
impl PartialEq for Destination {
    fn eq(&self, other: &Self) -> bool {
        self.number == other.number
    }
}

impl Eq for Destination {}

impl std::hash::Hash for Destination {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.number.hash(state);
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Destination({})", self.masked())
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.masked().fmt(f)
    }
}

/// A masked number: at most the first 3 characters (`+` and country code) and the last 2 digits.
/// `Copy` and allocation-free, so events can carry it on the hot path.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaskedDestination {
    head: [u8; 3],
    head_len: u8,
    tail: [u8; 2],
    tail_len: u8,
}

impl MaskedDestination {
    fn of(number: &str) -> Self {
        let bytes = number.as_bytes();
        // Numbers are normally printable ASCII throughout (`+` and digits): the mask is then the
        // ends of the string as they are, with no character-by-character filtering.
        if bytes.len() >= 8 && bytes.iter().all(u8::is_ascii_graphic) {
            let n = bytes.len();
            return MaskedDestination {
                head: [bytes[0], bytes[1], bytes[2]],
                head_len: 3,
                tail: [bytes[n - 2], bytes[n - 1]],
                tail_len: 2,
            };
        }
        // Anything else (spaces, separators) is masked over its printable characters only,
        // in one pass, without allocating.
        let (mut head, mut tail, mut len) = ([0; 3], [0; 2], 0usize);
        for b in number.bytes().filter(u8::is_ascii_graphic) {
            if len < 3 {
                head[len] = b;
            }
            tail = [tail[1], b];
            len += 1;
        }
        // Short numbers reveal nothing at all.
        if len < 8 {
            return MaskedDestination {
                head: [0; 3],
                head_len: 0,
                tail: [0; 2],
                tail_len: 0,
            };
        }
        MaskedDestination {
            head,
            head_len: 3,
            tail,
            tail_len: 2,
        }
    }
}

impl fmt::Display for MaskedDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = std::str::from_utf8(&self.head[..self.head_len as usize]).unwrap_or("");
        let tail = std::str::from_utf8(&self.tail[..self.tail_len as usize]).unwrap_or("");
        write!(f, "{head}******{tail}")
    }
}

impl fmt::Debug for MaskedDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for MaskedDestination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One attempt handed to an adapter.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub id: AttemptId,
    pub verification: VerificationId,
    /// 1 for the first attempt of a verification.
    pub number: u32,
    pub route: RouteId,
    pub country: Country,
    pub number_type: NumberType,
    pub destination: Destination,
    /// When the router judges the attempt a timeout if it has not resolved. Informational: the
    /// router enforces it. It may try elsewhere sooner (a probe, a deadline) but keeps
    /// watching the attempt until then, so an adapter should not give up earlier.
    pub timeout: Duration,
}

/// Why an attempt failed. The kind decides whom the failure is held against (see [`Attribution`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The provider's API is down or erroring (5xx, connection refused). Health.
    Unavailable,
    /// No delivery receipt before the attempt timeout (set by the router). Health.
    Timeout,
    /// The provider throttled us. Capacity: the route is passed over briefly, not judged.
    RateLimited,
    /// No sender number available for this route right now. Capacity.
    NoInventory,
    /// The provider refuses this country / number type (policy change, block). Health: the route
    /// cannot serve, which is exactly what ejection is for.
    Rejected,
    /// Accepted but the carrier reported the message undeliverable. Health.
    Undelivered,
    /// The number does not exist or cannot receive SMS. User-side: never counts against a route,
    /// and the verification stops (retrying elsewhere cannot help).
    InvalidDestination,
}

/// Whom a failure is attributed to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// Counts in the route's failure rate and consecutive failures; can eject it.
    Health,
    /// A capacity signal: the route is passed over for `capacity_cooldown`, never ejected for it.
    Capacity,
    /// The user's problem: recorded, never held against the route.
    User,
}

impl FailureKind {
    pub const ALL: [FailureKind; 7] = [
        FailureKind::Unavailable,
        FailureKind::Timeout,
        FailureKind::RateLimited,
        FailureKind::NoInventory,
        FailureKind::Rejected,
        FailureKind::Undelivered,
        FailureKind::InvalidDestination,
    ];

    pub fn attribution(self) -> Attribution {
        match self {
            FailureKind::Unavailable
            | FailureKind::Timeout
            | FailureKind::Rejected
            | FailureKind::Undelivered => Attribution::Health,
            FailureKind::RateLimited | FailureKind::NoInventory => Attribution::Capacity,
            FailureKind::InvalidDestination => Attribution::User,
        }
    }

    /// Whether the provider charges for the attempt: it accepted the message (timeouts and
    /// undelivered messages are paid for; refusals at submission are not).
    pub fn is_billable(self) -> bool {
        matches!(self, FailureKind::Timeout | FailureKind::Undelivered)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Unavailable => "unavailable",
            FailureKind::Timeout => "timeout",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::NoInventory => "no_inventory",
            FailureKind::Rejected => "rejected",
            FailureKind::Undelivered => "undelivered",
            FailureKind::InvalidDestination => "invalid_destination",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What an adapter reports for an attempt. Latency is measured by the router.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The delivery receipt arrived: the code reached the handset.
    Delivered,
    Failed(FailureKind),
}

/// The future an adapter returns. `Send` so the router works on multi-threaded runtimes.
pub type AttemptFuture = Pin<Box<dyn Future<Output = AttemptOutcome> + Send + 'static>>;

/// A provider, as the router sees it. One adapter serves every route of its provider.
pub trait ProviderAdapter: Send + Sync + 'static {
    /// Submits the attempt and resolves when its fate is known (delivery receipt or failure).
    /// The router applies the timeout; a future that never resolves is a black hole, which the
    /// router survives. Dropping the future abandons the attempt.
    fn send(&self, attempt: Attempt) -> AttemptFuture;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_never_print_in_clear() {
        let d = Destination::new("+447700900123");
        assert_eq!(d.to_string(), "+44******23");
        assert_eq!(format!("{d:?}"), "Destination(+44******23)");
        assert_eq!(
            serde_json::to_string(&d.masked()).unwrap(),
            "\"+44******23\""
        );
        assert_eq!(Destination::new("12345").to_string(), "******");
        // Separators are skipped, whichever path masks the number.
        assert_eq!(
            Destination::new("+44 7700 900 123").to_string(),
            "+44******23"
        );
        assert_eq!(Destination::new("+44 123").to_string(), "******");
        assert_eq!(Destination::new("+4477009").to_string(), "+44******09");
        assert_eq!(d.expose(), "+447700900123");
    }

    #[test]
    fn attribution_of_each_failure_kind() {
        use Attribution::*;
        let expect = [Health, Health, Capacity, Capacity, Health, Health, User];
        for (k, a) in FailureKind::ALL.iter().zip(expect) {
            assert_eq!(k.attribution(), a, "{k:?}");
        }
    }
}
