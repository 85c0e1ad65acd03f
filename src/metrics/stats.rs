//! Small statistics for comparing policies over several seeds.
//!
//! A policy's metric over n seeds is a sample; comparing two policies needs its spread, not just
//! its mean. Seeds are few (often 5 to 30), so the interval of a mean uses Student's t, not the
//! normal 1.96, which would be far too narrow for small n (t = 2.78 for n = 5). Proportions of
//! many verifications (a success rate over 100 000 trials) use the Wilson score interval, which
//! stays inside [0, 1] and behaves near 0 and 1 where the textbook `p ± z·sqrt(p(1-p)/n)`
//! collapses to a zero-width interval.
//!
//! Every function returns `None` where the quantity is undefined (no samples, one sample for a
//! spread) instead of NaN, so summaries stay finite.

/// The 0.975 quantile of the standard normal distribution.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Two-sided 95 % critical values of Student's t for 1..=30 degrees of freedom.
const T_95: [f64; 30] = [
    12.706_204_736,
    4.302_652_730,
    3.182_446_305,
    2.776_445_105,
    2.570_581_836,
    2.446_911_851,
    2.364_624_252,
    2.306_004_135,
    2.262_157_163,
    2.228_138_852,
    2.200_985_160,
    2.178_812_830,
    2.160_368_656,
    2.144_786_688,
    2.131_449_546,
    2.119_905_299,
    2.109_815_578,
    2.100_922_040,
    2.093_024_054,
    2.085_963_447,
    2.079_613_845,
    2.073_873_068,
    2.068_657_610,
    2.063_898_562,
    2.059_538_553,
    2.055_529_439,
    2.051_830_516,
    2.048_407_142,
    2.045_229_642,
    2.042_272_456,
];

/// Arithmetic mean; `None` for no samples.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (n - 1 in the denominator); `None` below two samples.
pub fn sample_std_dev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// The two-sided 95 % critical value of Student's t with `df` degrees of freedom: exact table
/// values up to 30, then the Cornish-Fisher expansion around the normal quantile (error below
/// 3e-8 from 31 on). `None` for `df == 0`.
pub fn t_critical_95(df: u64) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T_95[df as usize - 1]),
        _ => {
            let z = Z_95;
            let v = df as f64;
            let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
            let g1 = (z3 + z) / 4.0;
            let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
            let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
            let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
            Some(z + g1 / v + g2 / (v * v) + g3 / v.powi(3) + g4 / v.powi(4))
        }
    }
}

/// Half-width of the 95 % confidence interval of the mean: `t(n-1) * s / sqrt(n)`. `None`
/// below two samples.
pub fn ci95_half_width(xs: &[f64]) -> Option<f64> {
    let s = sample_std_dev(xs)?;
    let n = xs.len() as u64;
    Some(t_critical_95(n - 1)? * s / (n as f64).sqrt())
}

/// Mean with its 95 % confidence half-width, as reports show it (`mean ± half_width`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    pub n: u64,
    pub mean: f64,
    /// `None` below two samples.
    pub ci95_half_width: Option<f64>,
}

/// [`Estimate`] of a sample; `None` for no samples.
pub fn estimate(xs: &[f64]) -> Option<Estimate> {
    Some(Estimate {
        n: xs.len() as u64,
        mean: mean(xs)?,
        ci95_half_width: ci95_half_width(xs),
    })
}

/// Wilson score interval `(low, high)` at 95 % for `successes` out of `trials`; `None` for no
/// trials. Clamped to [0, 1] against rounding.
pub fn wilson_95(successes: u64, trials: u64) -> Option<(f64, f64)> {
    wilson(successes, trials, Z_95)
}

/// Wilson score interval for the normal quantile `z`.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<(f64, f64)> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z2 = z * z;
    let d = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / d;
    let half = z / d * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn mean_and_std_dev_of_known_samples() {
        let check = |xs: &[f64], m: Option<f64>, s: Option<f64>| {
            assert_eq!(
                mean(xs).map(|v| (v * 1e9).round()),
                m.map(|v| (v * 1e9).round())
            );
            match (sample_std_dev(xs), s) {
                (Some(a), Some(b)) => assert!(close(a, b, 1e-12), "{xs:?}: {a} != {b}"),
                (a, b) => assert_eq!(a, b, "{xs:?}"),
            }
        };
        check(&[], None, None);
        check(&[3.0], Some(3.0), None);
        check(
            &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0],
            Some(5.0),
            Some(2.138_089_935_299_395),
        );
        check(&[1.0, 1.0, 1.0], Some(1.0), Some(0.0));
    }

    #[test]
    fn t_critical_values_match_reference_quantiles() {
        // Reference: Student t 0.975 quantiles (R: qt(0.975, df)).
        let check = |df: u64, t: f64| {
            let got = t_critical_95(df).unwrap();
            assert!(close(got, t, 1e-7), "df {df}: {got} != {t}");
        };
        check(1, 12.706_204_736);
        check(4, 2.776_445_105);
        check(9, 2.262_157_163);
        check(30, 2.042_272_456);
        check(31, 2.039_513_446);
        check(40, 2.021_075_390);
        check(60, 2.000_297_822);
        check(120, 1.979_930_405);
        check(1000, 1.962_339_081);
        assert_eq!(t_critical_95(0), None);
    }

    #[test]
    fn confidence_half_width_of_known_sample() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        // t(7) * s / sqrt(8) = 2.364624252 * 2.138089935 / 2.828427125
        assert!(close(ci95_half_width(&xs).unwrap(), 1.787_487_918, 1e-8));
        assert_eq!(ci95_half_width(&[1.0]), None);
        let e = estimate(&xs).unwrap();
        assert_eq!((e.n, e.mean), (8, 5.0));
        assert_eq!(estimate(&[]), None);
    }

    #[test]
    fn wilson_interval_of_known_proportions() {
        let check = |k: u64, n: u64, lo: f64, hi: f64| {
            let (a, b) = wilson_95(k, n).unwrap();
            assert!(
                close(a, lo, 1e-9) && close(b, hi, 1e-9),
                "{k}/{n}: ({a}, {b})"
            );
        };
        check(8, 10, 0.490_162_471_536_641_8, 0.943_317_848_545_624_8);
        check(50, 100, 0.403_831_530_365_995_6, 0.596_168_469_634_004_4);
        check(0, 10, 0.0, 0.277_532_799_862_889_2);
        check(10, 10, 0.722_467_200_137_110_7, 1.0);
        assert_eq!(wilson_95(0, 0), None);
    }
}
