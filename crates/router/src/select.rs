//! Selection strategies: which of the eligible candidates gets this attempt.
//!
//! Filtering (coverage, compliance, state, diversity) happens before; a strategy only ranks what
//! is left. Strategies are pure functions of the candidates' numbers and one injected random
//! generator, so the same state and seed give the same decision, and each returns the
//! probability with which it picked its route (where that is defined), which is what an
//! off-policy evaluation of a new strategy against recorded decisions needs.
//!
//! Why expected cost per success: an attempt on a cheap route that fails costs its price *and*
//! a second attempt; `cost / P(success in time)` is what a verification is expected to cost on
//! that route, so it trades price against reliability in one number. `cost_sensitivity` bends
//! it: 0 ignores price entirely, 1 is the plain expectation.

use rand::Rng;
use rand_distr::{Beta, Distribution};

use crate::event::DecisionReason;
use crate::policy::Strategy;

/// What a strategy knows about one candidate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scored {
    pub cost: f64,
    pub priority: u32,
    pub weight: f64,
    /// Beta posterior over delivery probability: prior (shrunk toward the group) plus window.
    pub alpha: f64,
    pub beta: f64,
    /// Share of the route's recent deliveries that arrived within the time this attempt has.
    pub p_in_time: f64,
}

impl Scored {
    fn success_mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Choice {
    pub index: usize,
    pub reason: DecisionReason,
    pub probability: Option<f64>,
}

fn price(cost: f64, sensitivity: f64) -> f64 {
    if sensitivity == 0.0 {
        1.0
    } else if sensitivity == 1.0 {
        cost.max(0.0)
    } else {
        cost.max(0.0).powf(sensitivity)
    }
}

/// What a decision's strategy needs besides the candidates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    /// The chance of exploring *this* decision (0 when the budget is spent).
    pub exploration: f64,
    pub cost_sensitivity: f64,
    /// `failure_penalty`: a failed attempt's extra cost, in multiples of the dearest price.
    pub failure_penalty: f64,
    /// `score_spread`.
    pub spread: f64,
}

/// Expected cost per success of trying a route that succeeds with probability `eff`: its
/// price, plus the penalty of failing, per success. With `penalty` 0 this is the plain
/// `price / eff`, under which a free route wins at any success rate.
fn expected_cost(price: f64, eff: f64, penalty: f64) -> f64 {
    let eff = eff.max(1e-9);
    (price + (1.0 - eff) * penalty) / eff
}

/// Posterior draws used to estimate the probability of a Thompson pick.
const THOMPSON_ESTIMATE_DRAWS: u32 = 16;

/// Picks one of `cands` (non-empty). `scores` receives each candidate's score for the audit
/// trail.
pub(crate) fn choose<R: Rng>(
    strategy: Strategy,
    cands: &[Scored],
    scores: &mut [f64],
    params: Params,
    rng: &mut R,
) -> Choice {
    debug_assert!(!cands.is_empty());
    let n = cands.len();
    let exploration = params.exploration;
    let sens = params.cost_sensitivity;
    match strategy {
        Strategy::Priority => {
            let top = cands.iter().map(|c| c.priority).min().unwrap_or(0);
            let mut total = 0.0;
            for (s, c) in scores.iter_mut().zip(cands) {
                *s = f64::from(c.priority);
                if c.priority == top {
                    total += c.weight;
                }
            }
            let index = weighted_pick(
                cands,
                rng,
                |c| {
                    if c.priority == top { c.weight } else { 0.0 }
                },
            );
            Choice {
                index,
                reason: DecisionReason::Best,
                probability: Some(cands[index].weight / total),
            }
        }
        Strategy::Weighted => {
            let total: f64 = cands.iter().map(|c| c.weight).sum();
            for (s, c) in scores.iter_mut().zip(cands) {
                *s = c.weight;
            }
            let explore = n > 1 && exploration > 0.0 && rng.random::<f64>() < exploration;
            let index = if explore {
                rng.random_range(0..n)
            } else {
                weighted_pick(cands, rng, |c| c.weight)
            };
            let p = (1.0 - exploration) * cands[index].weight / total
                + if n > 1 { exploration / n as f64 } else { 0.0 };
            Choice {
                index,
                reason: if explore {
                    DecisionReason::Explore
                } else {
                    DecisionReason::Best
                },
                probability: Some(if n == 1 { 1.0 } else { p }),
            }
        }
        Strategy::Score => {
            let penalty = params.failure_penalty * max_price(cands, sens);
            let mut best = 0;
            let mut best_key = (f64::INFINITY, f64::NEG_INFINITY);
            for (i, (s, c)) in scores.iter_mut().zip(cands).enumerate() {
                let eff = c.success_mean() * c.p_in_time;
                *s = expected_cost(price(c.cost, sens), eff, penalty);
                // Lower score first; among equal scores the likelier success.
                if *s < best_key.0 || (*s == best_key.0 && eff > best_key.1) {
                    best = i;
                    best_key = (*s, eff);
                }
            }
            spread_around(best, scores, exploration, params.spread, rng)
        }
        Strategy::Thompson => {
            let penalty = params.failure_penalty * max_price(cands, sens);
            let value = |c: &Scored, theta: f64| {
                expected_cost(price(c.cost, sens), theta * c.p_in_time, penalty)
            };
            let draw = |c: &Scored, rng: &mut R| {
                Beta::new(c.alpha, c.beta)
                    .map(|b| b.sample(rng))
                    .unwrap_or_else(|_| c.success_mean())
            };
            let mut best = 0;
            let mut best_value = f64::INFINITY;
            for (i, (s, c)) in scores.iter_mut().zip(cands).enumerate() {
                let theta = draw(c, rng);
                *s = theta;
                let v = value(c, theta);
                if v < best_value {
                    best = i;
                    best_value = v;
                }
            }
            if n == 1 {
                return Choice {
                    index: 0,
                    reason: DecisionReason::Best,
                    probability: Some(1.0),
                };
            }
            let explore = exploration > 0.0 && rng.random::<f64>() < exploration;
            let index = if explore {
                rng.random_range(0..n)
            } else {
                best
            };
            // The chance that `index`'s draw wins has no closed form: estimate it from fresh
            // draws (the decision's own draw counts as one of them).
            let mut wins = u32::from(index == best);
            for _ in 0..THOMPSON_ESTIMATE_DRAWS {
                let mut round_best = (0, f64::INFINITY);
                for (i, c) in cands.iter().enumerate() {
                    let v = value(c, draw(c, rng));
                    if v < round_best.1 {
                        round_best = (i, v);
                    }
                }
                wins += u32::from(round_best.0 == index);
            }
            let won = f64::from(wins) / f64::from(THOMPSON_ESTIMATE_DRAWS + 1);
            Choice {
                index,
                reason: if explore {
                    DecisionReason::Explore
                } else {
                    DecisionReason::Best
                },
                probability: Some((1.0 - exploration) * won + exploration / n as f64),
            }
        }
    }
}

fn max_price(cands: &[Scored], sensitivity: f64) -> f64 {
    cands
        .iter()
        .map(|c| price(c.cost, sensitivity))
        .fold(0.0, f64::max)
}

/// The `score` pick: among the candidates whose score is within `spread` of the best, one in
/// inverse proportion to its score (so near-equal routes share load instead of herding on
/// whichever leads by noise); with probability `exploration`, one of the others, uniformly.
fn spread_around<R: Rng>(
    best: usize,
    scores: &[f64],
    exploration: f64,
    spread: f64,
    rng: &mut R,
) -> Choice {
    let n = scores.len();
    let bound = scores[best] * (1.0 + spread);
    let near = |s: f64| s <= bound;
    // Inverse-score weights (equal weights when the best score is 0: free and certain).
    let weight = |s: f64| {
        if !near(s) {
            0.0
        } else if bound > 0.0 {
            1.0 / s
        } else {
            1.0
        }
    };
    let near_count = scores.iter().filter(|s| near(**s)).count();
    let others = n - near_count;
    if others > 0 && exploration > 0.0 && rng.random::<f64>() < exploration {
        let mut k = rng.random_range(0..others);
        for (i, s) in scores.iter().enumerate() {
            if !near(*s) {
                if k == 0 {
                    return Choice {
                        index: i,
                        reason: DecisionReason::Explore,
                        probability: Some(exploration / others as f64),
                    };
                }
                k -= 1;
            }
        }
    }
    let kept = if others > 0 { 1.0 - exploration } else { 1.0 };
    if near_count == 1 {
        return Choice {
            index: best,
            reason: DecisionReason::Best,
            probability: Some(kept),
        };
    }
    let total: f64 = scores.iter().map(|s| weight(*s)).sum();
    let mut x = rng.random::<f64>() * total;
    let mut index = best;
    for (i, s) in scores.iter().enumerate() {
        let w = weight(*s);
        if w <= 0.0 {
            continue;
        }
        index = i;
        if x < w {
            break;
        }
        x -= w;
    }
    Choice {
        index,
        reason: DecisionReason::Best,
        probability: Some(kept * weight(scores[index]) / total),
    }
}

fn weighted_pick<R: Rng>(cands: &[Scored], rng: &mut R, w: impl Fn(&Scored) -> f64) -> usize {
    let total: f64 = cands.iter().map(&w).sum();
    let mut x = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, c) in cands.iter().enumerate() {
        let wi = w(c);
        if wi <= 0.0 {
            continue;
        }
        last = i;
        if x < wi {
            return i;
        }
        x -= wi;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn cand(cost: f64, priority: u32, weight: f64, ok: f64, fail: f64) -> Scored {
        Scored {
            cost,
            priority,
            weight,
            alpha: 1.0 + ok,
            beta: 1.0 + fail,
            p_in_time: 1.0,
        }
    }

    /// Plain expected cost per success: no failure penalty, no spread.
    fn params(exploration: f64, cost_sensitivity: f64) -> Params {
        Params {
            exploration,
            cost_sensitivity,
            failure_penalty: 0.0,
            spread: 0.0,
        }
    }

    fn shares(strategy: Strategy, cands: &[Scored], exploration: f64, n: usize) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut counts = vec![0usize; cands.len()];
        let mut scores = vec![0.0; cands.len()];
        for _ in 0..n {
            let c = choose(
                strategy,
                cands,
                &mut scores,
                params(exploration, 1.0),
                &mut rng,
            );
            counts[c.index] += 1;
        }
        counts.iter().map(|&c| c as f64 / n as f64).collect()
    }

    #[test]
    fn priority_prefers_lowest_priority_and_splits_ties_by_weight() {
        let c = [
            cand(0.01, 1, 1.0, 0.0, 0.0),
            cand(0.01, 0, 3.0, 0.0, 0.0),
            cand(0.01, 0, 1.0, 0.0, 0.0),
        ];
        let s = shares(Strategy::Priority, &c, 0.5, 20_000);
        assert_eq!(s[0], 0.0);
        assert!((s[1] - 0.75).abs() < 0.02, "{s:?}");
    }

    #[test]
    fn weighted_follows_weights_and_reports_probability() {
        let c = [cand(0.01, 0, 1.0, 0.0, 0.0), cand(0.01, 0, 4.0, 0.0, 0.0)];
        let s = shares(Strategy::Weighted, &c, 0.0, 20_000);
        assert!((s[1] - 0.8).abs() < 0.02, "{s:?}");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let ch = choose(
            Strategy::Weighted,
            &c,
            &mut [0.0; 2],
            params(0.1, 1.0),
            &mut rng,
        );
        let expect = if ch.index == 1 {
            0.9 * 0.8 + 0.05
        } else {
            0.9 * 0.2 + 0.05
        };
        assert!((ch.probability.unwrap() - expect).abs() < 1e-12);
    }

    #[test]
    fn score_trades_price_against_success_probability() {
        // Route 0: cheap but delivers 40%; route 1: twice the price, delivers 95%.
        let c = [
            cand(0.01, 0, 1.0, 40.0, 60.0),
            cand(0.02, 0, 1.0, 95.0, 5.0),
        ];
        let mut scores = [0.0; 2];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let ch = choose(Strategy::Score, &c, &mut scores, params(0.0, 1.0), &mut rng);
        assert_eq!(ch.index, 1, "{scores:?}");
        assert_eq!(ch.probability, Some(1.0));
        // Ignoring price, the better route wins too; with a tiny success gap price decides.
        let close = [
            cand(0.01, 0, 1.0, 90.0, 10.0),
            cand(0.02, 0, 1.0, 95.0, 5.0),
        ];
        let ch = choose(
            Strategy::Score,
            &close,
            &mut scores,
            params(0.0, 1.0),
            &mut rng,
        );
        assert_eq!(ch.index, 0);
        let ch = choose(
            Strategy::Score,
            &close,
            &mut scores,
            params(0.0, 0.0),
            &mut rng,
        );
        assert_eq!(ch.index, 1);
    }

    #[test]
    fn score_exploration_is_reported_with_its_probability() {
        let c = [
            cand(0.01, 0, 1.0, 90.0, 10.0),
            cand(0.01, 0, 1.0, 50.0, 50.0),
            cand(0.01, 0, 1.0, 10.0, 90.0),
        ];
        let s = shares(Strategy::Score, &c, 0.2, 30_000);
        assert!((s[0] - 0.8).abs() < 0.015, "{s:?}");
        assert!((s[2] - 0.1).abs() < 0.015, "{s:?}");
    }

    #[test]
    fn the_failure_penalty_stops_a_free_route_winning_at_any_success_rate() {
        // Free but delivering 60%, against 0.05 at 99%.
        let c = [cand(0.0, 0, 1.0, 60.0, 40.0), cand(0.05, 0, 1.0, 99.0, 1.0)];
        let mut scores = [0.0; 2];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let plain = choose(Strategy::Score, &c, &mut scores, params(0.0, 1.0), &mut rng);
        assert_eq!(plain.index, 0, "price / P(success) alone: free always wins");
        let with_penalty = Params {
            failure_penalty: 2.0,
            ..params(0.0, 1.0)
        };
        let ch = choose(Strategy::Score, &c, &mut scores, with_penalty, &mut rng);
        assert_eq!(ch.index, 1, "{scores:?}");
        // A cheaper route that is nearly as reliable still wins: the penalty only prices failure.
        let close = [cand(0.04, 0, 1.0, 97.0, 3.0), cand(0.05, 0, 1.0, 99.0, 1.0)];
        let ch = choose(Strategy::Score, &close, &mut scores, with_penalty, &mut rng);
        assert_eq!(ch.index, 0, "{scores:?}");
    }

    #[test]
    fn score_spreads_over_near_equal_routes_with_exact_probabilities() {
        let spread = Params {
            spread: 0.05,
            ..params(0.1, 1.0)
        };
        // Two equal routes and one far worse.
        let c = [
            cand(0.01, 0, 1.0, 95.0, 5.0),
            cand(0.01, 0, 1.0, 95.0, 5.0),
            cand(0.01, 0, 1.0, 30.0, 70.0),
        ];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut scores = [0.0; 3];
        let mut counts = [0usize; 3];
        let n = 30_000;
        for _ in 0..n {
            let ch = choose(Strategy::Score, &c, &mut scores, spread, &mut rng);
            counts[ch.index] += 1;
            let expect = if ch.index == 2 { 0.1 } else { 0.45 };
            assert!((ch.probability.unwrap() - expect).abs() < 1e-12, "{ch:?}");
        }
        let share = |i: usize| counts[i] as f64 / n as f64;
        assert!((share(0) - 0.45).abs() < 0.015, "{counts:?}");
        assert!((share(1) - 0.45).abs() < 0.015, "{counts:?}");
        assert!((share(2) - 0.1).abs() < 0.01, "{counts:?}");
    }

    #[test]
    fn thompson_explores_and_estimates_its_pick_probability() {
        let c = [
            cand(0.01, 0, 1.0, 95.0, 5.0),
            cand(0.01, 0, 1.0, 50.0, 50.0),
        ];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut scores = [0.0; 2];
        let (mut explored, n) = (0, 5_000);
        for _ in 0..n {
            let ch = choose(
                Strategy::Thompson,
                &c,
                &mut scores,
                params(0.2, 1.0),
                &mut rng,
            );
            explored += usize::from(ch.reason == DecisionReason::Explore);
            let p = ch.probability.unwrap();
            // The better route wins nearly every draw: ~0.8 + 0.1; the other ~0.1.
            let expect = if ch.index == 0 { 0.9 } else { 0.1 };
            assert!((p - expect).abs() < 0.06, "{ch:?}");
        }
        assert!(
            (explored as f64 / n as f64 - 0.2).abs() < 0.02,
            "{explored}"
        );
    }

    #[test]
    fn thompson_prefers_the_better_posterior() {
        let c = [
            cand(0.01, 0, 1.0, 50.0, 50.0),
            cand(0.01, 0, 1.0, 95.0, 5.0),
            cand(0.01, 0, 1.0, 70.0, 30.0),
        ];
        let s = shares(Strategy::Thompson, &c, 0.0, 5_000);
        assert!(s[1] > 0.95, "{s:?}");
    }
}
