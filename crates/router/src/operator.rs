//! Operator controls: overrides that say who set them, why and until when, and traffic shifts
//! (weights per (country, number type)) for a manual drain.
//!
//! Why metadata and expiry: an override is a human decision taken during an incident ("force
//! `atlas/DE/mobile` out, the provider says it is broken"), and the next person on call must be
//! able to see who took it and why, and it must not outlive the incident because somebody
//! forgot it. An expiry ends it by itself, lazily (like an ejection's end): when the route is
//! next looked at by a decision of its group, by `route_status`, or by a new override; the end
//! is audited with its own event.
//!
//! Why shifting by weights: a drain ("move DE/mobile off atlas for its maintenance window") or
//! a canary ("send 10 % of first attempts to the new provider") is a statement about *shares*,
//! which neither an override (all or nothing per route) nor the strategy (the router's own
//! judgement) can make. While a shift is set, first attempts among the healthy candidates are
//! drawn in proportion to the operator's weights (reason `traffic_shift`, with the pick's
//! probability). Health always wins: an ejected or probing route gets no share whatever its
//! weight, and a route at a limit or over a cost cap is excluded as ever. A route of weight 0
//! (or not listed) is *drained*: it gets no first attempts and no probes while other routes can
//! serve, but it is still a last resort for a retry or a first attempt when every weighted route
//! is out, and it is a candidate in panic mode, so a drain never takes a group dark. Retries
//! use the strategy, among the routes not drained.

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::event::Override;
use crate::route::{Country, NumberType, RouteId};

/// An override with its reasons, for [`crate::Router::set_override_with`].
#[derive(Clone, Debug, PartialEq)]
pub struct OverrideRequest {
    /// The override; [`Override::None`] clears the route's override.
    pub value: Override,
    /// Who sets it (a name, a ticket system's user): audited and shown in `route_status`.
    pub by: String,
    /// Why (an incident number, a sentence): audited and shown in `route_status`.
    pub reason: String,
    /// How long it lasts; `None` until cleared. When it runs out the route returns to
    /// automatic control as if the override had been cleared (a route released from
    /// `force_eject` earns its way back through probing).
    pub expires_in: Option<Duration>,
}

/// An override in force, as [`crate::RouteStatus`] shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OverrideInfo {
    /// The override in force.
    pub value: Override,
    /// Who set it, as [`OverrideRequest::by`] said (empty when set by `set_override`).
    pub by: String,
    /// Why, as [`OverrideRequest::reason`] said.
    pub reason: String,
    /// When it was set (offset from the router's epoch, like events' `at`).
    #[serde(serialize_with = "crate::event::secs")]
    pub set_at: Duration,
    /// When it ends by itself (offset from the router's epoch); `None`: until cleared.
    #[serde(serialize_with = "crate::event::opt_secs")]
    pub expires_at: Option<Duration>,
}

/// What the route's runtime keeps of an operator's override.
#[derive(Clone, Debug)]
pub(crate) struct OverrideNote {
    pub by: String,
    pub reason: String,
    pub set_at: Duration,
    /// When it ends, on the router's clock, and as an offset from its epoch (for events).
    pub expires: Option<(Instant, Duration)>,
}

/// A traffic shift in force on a (country, number type), as [`crate::Router::traffic_shift`]
/// shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrafficShift {
    /// Each listed route's weight, in the order given; a route of the group not listed has
    /// weight 0 (drained).
    pub weights: Vec<(RouteId, f64)>,
    /// Who set it.
    pub by: String,
    /// Why (a maintenance window, a canary).
    pub reason: String,
    /// When it was set (offset from the router's epoch).
    #[serde(serialize_with = "crate::event::secs")]
    pub set_at: Duration,
}

impl TrafficShift {
    /// The operator's weight of `route` (0 when not listed: drained).
    pub fn weight(&self, route: RouteId) -> f64 {
        self.weights
            .iter()
            .find(|(r, _)| *r == route)
            .map_or(0.0, |(_, w)| *w)
    }
}

/// A traffic shift that cannot be applied, naming what to fix.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShiftError {
    #[error("no route serves {country}/{number_type}: nothing to shift")]
    NoRoutes {
        country: Country,
        number_type: NumberType,
    },
    #[error("route {route} does not serve {country}/{number_type}; list routes of that group only")]
    NotInGroup {
        route: u32,
        country: Country,
        number_type: NumberType,
    },
    #[error("route {route} is listed twice; give each route one weight")]
    Duplicate { route: u32 },
    #[error("route {route}: weight {weight} must be a finite number >= 0 (0 drains the route)")]
    InvalidWeight { route: u32, weight: f64 },
    #[error(
        "every weight is 0, which drains the whole group; give at least one route a weight above 0 (to take a route out, force-eject it)"
    )]
    AllDrained,
}
