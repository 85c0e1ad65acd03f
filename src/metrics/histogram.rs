//! Histograms: the run-level hdrhistograms, their portable serialized form, and the compact
//! log-binned histogram each time-series row keeps.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::summary::Quantiles;

/// Lowest value the run-level histograms resolve: 1 us.
pub(crate) const HDR_LOW: u64 = 1;
/// Highest value they hold: 1 h in microseconds; larger values saturate.
pub(crate) const HDR_HIGH: u64 = 3_600_000_000;
/// Significant digits: quantiles within 0.1 %.
pub(crate) const HDR_SIGFIG: u8 = 3;

/// A fresh latency histogram in microseconds with the bounds every run uses, so histograms of
/// different runs merge without resizing.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(HDR_LOW, HDR_HIGH, HDR_SIGFIG)
        .expect("constant histogram bounds are valid")
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// p50, p90, p99, p99.9 and max of a microsecond histogram, in seconds; all `None` when empty.
pub(crate) fn quantiles(h: &Histogram<u64>) -> Quantiles {
    if h.is_empty() {
        return Quantiles::default();
    }
    let q = |q: f64| Some(secs(h.value_at_quantile(q)));
    Quantiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: Some(secs(h.max())),
    }
}

/// An hdrhistogram in its portable form: the V2 + deflate encoding (the format every HdrHistogram
/// implementation reads), in standard base64 so it fits a JSON string. Runs are merged later
/// (seeds of one policy, shards of a sweep) by decoding and adding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SerializedHistogram(pub String);

/// A histogram that could not be encoded, decoded or merged.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("histogram bytes are not a V2 hdrhistogram: {0}")]
    Decode(#[from] hdrhistogram::serialization::DeserializeError),
    #[error("histogram could not be encoded: {0}")]
    Encode(#[from] hdrhistogram::serialization::V2DeflateSerializeError),
    #[error("histograms cannot be merged: {0}")]
    Merge(#[from] hdrhistogram::errors::AdditionError),
}

impl SerializedHistogram {
    pub fn encode(h: &Histogram<u64>) -> Result<Self, HistogramError> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new().serialize(h, &mut bytes)?;
        Ok(SerializedHistogram(STANDARD.encode(bytes)))
    }

    pub fn decode(&self) -> Result<Histogram<u64>, HistogramError> {
        let bytes = STANDARD.decode(self.0.as_bytes())?;
        Ok(Deserializer::new().deserialize(&mut bytes.as_slice())?)
    }

    /// Decodes and adds every part into one histogram with the standard run bounds (growing if a
    /// part holds larger values). An empty list gives an empty histogram.
    pub fn merge<'a, I>(parts: I) -> Result<Histogram<u64>, HistogramError>
    where
        I: IntoIterator<Item = &'a SerializedHistogram>,
    {
        let mut total = latency_histogram();
        total.auto(true);
        for part in parts {
            total.add(part.decode()?)?;
        }
        Ok(total)
    }

    /// [`SerializedHistogram::merge`], encoded again.
    pub fn merge_encoded<'a, I>(parts: I) -> Result<SerializedHistogram, HistogramError>
    where
        I: IntoIterator<Item = &'a SerializedHistogram>,
    {
        Self::encode(&Self::merge(parts)?)
    }

    /// The summary quantiles of the decoded histogram, in seconds (values are microseconds).
    pub fn quantiles(&self) -> Result<Quantiles, HistogramError> {
        Ok(quantiles(&self.decode()?))
    }
}

/// Compact log-binned histogram of microseconds, stored as a `[u32; LOG_BINS]` slice of a flat
/// vector (one per time-series row).
///
/// Bin 0 holds values below 2^10 us (~1 ms); bins 1.. split each power of two [2^o, 2^(o+1)),
/// o in 10..32, into 16 linear sub-bins; the last bin holds values at or above 2^32 us (~71.6
/// min). Integer arithmetic only, so binning is identical on every platform. A bin's midpoint is
/// within 1/32 of any value in it.
pub(crate) mod log_bins {
    const SUB_BITS: u32 = 4;
    const SUB: usize = 1 << SUB_BITS;
    const LOW_OCTAVE: u32 = 10;
    const HIGH_OCTAVE: u32 = 32;
    pub(crate) const LOG_BINS: usize = 2 + (HIGH_OCTAVE - LOW_OCTAVE) as usize * SUB;

    pub(crate) fn bin(us: u64) -> usize {
        if us < 1 << LOW_OCTAVE {
            return 0;
        }
        if us >= 1 << HIGH_OCTAVE {
            return LOG_BINS - 1;
        }
        let octave = 63 - us.leading_zeros();
        let sub = ((us >> (octave - SUB_BITS)) as usize) & (SUB - 1);
        1 + (octave - LOW_OCTAVE) as usize * SUB + sub
    }

    /// The value a bin stands for: its midpoint (edge bins: half the floor, and the ceiling).
    pub(crate) fn value(bin: usize) -> u64 {
        if bin == 0 {
            return (1 << LOW_OCTAVE) / 2;
        }
        if bin >= LOG_BINS - 1 {
            return 1 << HIGH_OCTAVE;
        }
        let i = bin - 1;
        let octave = LOW_OCTAVE + (i / SUB) as u32;
        let sub = (i % SUB) as u64;
        let width = 1u64 << (octave - SUB_BITS);
        (SUB as u64 + sub) * width + width / 2
    }

    /// Nearest-rank quantile: the value of the bin holding the `ceil(q * n)`-th smallest sample.
    pub(crate) fn quantile(bins: &[u32], q: f64) -> Option<u64> {
        let n: u64 = bins.iter().map(|&c| u64::from(c)).sum();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0u64;
        for (i, &c) in bins.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(value(i));
            }
        }
        Some(value(bins.len() - 1))
    }
}
