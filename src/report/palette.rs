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
//! - a sweep's **metric values** take a sequential scale ([`better_scale`], viridis) oriented
//!   by the metric's direction, so the bright end is the better one on every heatmap whether
//!   the metric improves upwards (success) or downwards (cost); a swept **parameter's** values
//!   take another ([`parameter_scale`], plasma without its palest yellow), so a parameter's
//!   colour is never read as good or bad. Both are perceptually ordered and stay ordered in
//!   grey and for the common colour-vision deficiencies.
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

/// Viridis at nine evenly spaced stops (matplotlib's), dark purple to yellow.
const VIRIDIS: [Rgb; 9] = [
    Rgb(0x44, 0x01, 0x54),
    Rgb(0x47, 0x2c, 0x7a),
    Rgb(0x3b, 0x51, 0x8b),
    Rgb(0x2c, 0x71, 0x8e),
    Rgb(0x21, 0x90, 0x8d),
    Rgb(0x27, 0xad, 0x81),
    Rgb(0x5c, 0xc8, 0x63),
    Rgb(0xaa, 0xdc, 0x32),
    Rgb(0xfd, 0xe7, 0x25),
];

/// Plasma at nine evenly spaced stops (matplotlib's), dark blue to yellow.
const PLASMA: [Rgb; 9] = [
    Rgb(0x0d, 0x08, 0x87),
    Rgb(0x4c, 0x02, 0xa1),
    Rgb(0x7e, 0x03, 0xa8),
    Rgb(0xa9, 0x23, 0x95),
    Rgb(0xcc, 0x47, 0x78),
    Rgb(0xe5, 0x6b, 0x5d),
    Rgb(0xf8, 0x94, 0x41),
    Rgb(0xfd, 0xc3, 0x28),
    Rgb(0xf0, 0xf9, 0x21),
];

/// `stops` read at `t` in [0, 1] (clamped; NaN reads as 0), linearly between stops.
fn ramp(stops: &[Rgb], t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * f).round() as u8;
    Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A metric's value on a sweep chart, `goodness` in [0, 1] from the worst value shown (0, dark
/// purple) to the best (1, yellow): the caller orients it by the metric's direction.
pub fn better_scale(goodness: f64) -> Rgb {
    ramp(&VIRIDIS, goodness)
}

/// A swept parameter's value, `t` in [0, 1] from its lowest (dark blue) to its highest
/// (orange); plasma's last stretch, pale yellow, is left out because it vanishes on white.
pub fn parameter_scale(t: f64) -> Rgb {
    ramp(&PLASMA, t.clamp(0.0, 1.0) * 0.82)
}

/// Ink or white, whichever reads on `background` (relative luminance, sRGB weights).
pub fn text_on(background: Rgb) -> Rgb {
    let l = 0.2126 * f64::from(background.0)
        + 0.7152 * f64::from(background.1)
        + 0.0722 * f64::from(background.2);
    if l > 150.0 {
        INK
    } else {
        Rgb(0xff, 0xff, 0xff)
    }
}

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
    fn sequential_scales_run_from_end_to_end_and_clamp() {
        assert_eq!(better_scale(0.0), VIRIDIS[0]);
        assert_eq!(better_scale(1.0), VIRIDIS[8]);
        assert_eq!(better_scale(0.5), VIRIDIS[4]);
        assert_eq!(better_scale(-3.0), VIRIDIS[0]);
        assert_eq!(better_scale(f64::NAN), VIRIDIS[0]);
        assert_eq!(parameter_scale(0.0), PLASMA[0]);
        assert_ne!(
            parameter_scale(1.0),
            PLASMA[8],
            "the palest yellow is left out"
        );
        // Dark cells get white text, bright ones ink.
        assert_eq!(text_on(better_scale(0.0)), Rgb(0xff, 0xff, 0xff));
        assert_eq!(text_on(better_scale(1.0)), INK);
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
