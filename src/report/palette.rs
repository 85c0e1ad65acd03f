//! The report's colours, one source for every chart and the HTML page.
//!
//! A reader who has learnt that orange is the `aggressive` policy in one chart must find it
//! orange in the next, so colours are assigned by *position*, never by name hashing:
//!
//! - a **policy** takes the colour of its index in `RunSummary::policies` (Tableau 10);
//! - a **provider** takes the colour of its index in `ScenarioInfo::providers` (Okabe-Ito);
//! - **route states** have fixed colours: healthy green, probing amber, ejected red, panic
//!   purple;
//! - **verdicts** of a comparison reuse them: better green, worse red, no detectable difference
//!   grey (charts also write the verdict in words: red and green alone fail the most common
//!   colour-vision deficiency).
//!
//! Both palettes were designed to stay distinguishable for the common colour-vision
//! deficiencies. Past their length they cycle (a scenario with more than ten policies needs the
//! legend anyway). The types here are plain RGB so that the HTML page can use them without
//! knowing about plotters.

use crate::metrics::TimelineState;
use crate::metrics::compare::Verdict;

/// A colour as 8-bit red, green, blue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`, for CSS and hand-written SVG.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Tableau 10: the policy colours.
pub const POLICIES: [Rgb; 10] = [
    Rgb(0x4e, 0x79, 0xa7), // blue
    Rgb(0xf2, 0x8e, 0x2b), // orange
    Rgb(0xe1, 0x57, 0x59), // red
    Rgb(0x76, 0xb7, 0xb2), // teal
    Rgb(0x59, 0xa1, 0x4f), // green
    Rgb(0xed, 0xc9, 0x48), // yellow
    Rgb(0xb0, 0x7a, 0xa1), // purple
    Rgb(0xff, 0x9d, 0xa7), // pink
    Rgb(0x9c, 0x75, 0x5f), // brown
    Rgb(0xba, 0xb0, 0xac), // grey
];

/// Okabe-Ito without its black (which would read as an axis): the provider colours.
pub const PROVIDERS: [Rgb; 8] = [
    Rgb(0x00, 0x72, 0xb2), // blue
    Rgb(0xe6, 0x9f, 0x00), // orange
    Rgb(0x00, 0x9e, 0x73), // bluish green
    Rgb(0xcc, 0x79, 0xa7), // reddish purple
    Rgb(0x56, 0xb4, 0xe9), // sky blue
    Rgb(0xd5, 0x5e, 0x00), // vermillion
    Rgb(0xf0, 0xe4, 0x42), // yellow
    Rgb(0x99, 0x99, 0x99), // grey
];

/// A route in service.
pub const HEALTHY: Rgb = Rgb(0x4d, 0xac, 0x26);
/// A route probing its way back (a bounded share of traffic).
pub const PROBING: Rgb = Rgb(0xf1, 0xa3, 0x40);
/// A route out of service.
pub const EJECTED: Rgb = Rgb(0xd7, 0x19, 0x1c);
/// Its (country, number type) group in panic mode (every candidate out, the least bad serves).
pub const PANIC: Rgb = Rgb(0x76, 0x2a, 0x83);
/// A comparison whose interval lies entirely on the better side of zero (the route-state green).
pub const BETTER: Rgb = HEALTHY;
/// Entirely on the worse side (the route-state red).
pub const WORSE: Rgb = EJECTED;
/// The interval reaches across zero: no detectable difference.
pub const NO_DIFFERENCE: Rgb = Rgb(0x8c, 0x8c, 0x8c);
/// The providers a chart lumps together when there are too many to tell apart (a light grey,
/// unlike every provider colour).
pub const OTHER: Rgb = Rgb(0xd9, 0xd9, 0xd9);
/// Shading of injected fault windows (drawn translucent, behind the data).
pub const FAULT: Rgb = Rgb(0x55, 0x55, 0x55);
/// Text and axes.
pub const INK: Rgb = Rgb(0x22, 0x22, 0x22);
/// Secondary text: fault labels, notes.
pub const MUTED: Rgb = Rgb(0x60, 0x60, 0x60);

/// The colour of the policy at `index` in `RunSummary::policies`.
pub fn policy(index: usize) -> Rgb {
    POLICIES[index % POLICIES.len()]
}

/// The colour of the provider at `index` in `ScenarioInfo::providers`.
pub fn provider(index: usize) -> Rgb {
    PROVIDERS[index % PROVIDERS.len()]
}

/// The fixed colour of a verdict: better green, worse red, no detectable difference grey.
pub fn verdict(verdict: Verdict) -> Rgb {
    match verdict {
        Verdict::Better => BETTER,
        Verdict::Worse => WORSE,
        Verdict::NoDetectableDifference => NO_DIFFERENCE,
    }
}

/// The fixed colour of a route state.
pub fn state(state: TimelineState) -> Rgb {
    match state {
        TimelineState::Healthy => HEALTHY,
        TimelineState::Probing => PROBING,
        TimelineState::Ejected => EJECTED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_assigned_by_index_and_cycle() {
        assert_eq!(policy(0), POLICIES[0]);
        assert_eq!(policy(POLICIES.len() + 1), policy(1));
        assert_eq!(provider(PROVIDERS.len()), provider(0));
        assert_eq!(policy(0).hex(), "#4e79a7");
    }

    #[test]
    fn colours_within_a_palette_are_distinct() {
        for palette in [&POLICIES[..], &PROVIDERS[..]] {
            for (i, a) in palette.iter().enumerate() {
                assert!(!palette[i + 1..].contains(a), "{a:?} twice");
            }
        }
        let states = [HEALTHY, PROBING, EJECTED, PANIC];
        for (i, a) in states.iter().enumerate() {
            assert!(!states[i + 1..].contains(a));
        }
    }
}
