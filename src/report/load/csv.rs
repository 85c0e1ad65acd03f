//! `load.csv`: one row per interval of a load test ([`LoadSample`]), in time order.
//!
//! Columns: `t` (end of the interval, wall seconds since the first arrival was due),
//! `target_rate`, `achieved_rate`, `completed_rate` (per wall second), `in_flight` (at the end
//! of the interval), `dropped` (arrivals dropped in it), `success_rate` (delivered over ended in
//! it), `overhead_p99_us` (the router's overhead, microseconds), `cpu` (the process's share of
//! every core over it). A value the interval does not have (nothing ended, the OS gave no CPU
//! time) is an empty cell. The header is written even without a row (a run stopped at once).
//!
//! Every cell is a number the run measured, none is text from a scenario, so nothing here needs
//! formula neutralisation ([`crate::report::csv_export::text`]).

use crate::metrics::load::{LoadSample, LoadSummary};

/// The header of `load.csv`.
pub const HEADER: [&str; 9] = [
    "t",
    "target_rate",
    "achieved_rate",
    "completed_rate",
    "in_flight",
    "dropped",
    "success_rate",
    "overhead_p99_us",
    "cpu",
];

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

fn row(s: &LoadSample) -> [String; 9] {
    [
        s.t.to_string(),
        s.target_rate.to_string(),
        s.achieved_rate.to_string(),
        s.completed_rate.to_string(),
        s.in_flight.to_string(),
        s.dropped.to_string(),
        opt(s.success_rate),
        opt(s.overhead_p99),
        opt(s.cpu),
    ]
}

/// `load.csv` of `load` (see the module's documentation).
pub fn load_csv(load: &LoadSummary) -> Vec<u8> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).expect("in memory");
    for s in &load.series {
        w.write_record(row(s)).expect("in memory");
    }
    w.into_inner().expect("writing to memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::fixture;

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn one_row_per_sample_under_the_header() {
        let l = fixture::load();
        let csv = lines(&load_csv(&l));
        assert_eq!(csv[0], HEADER.join(","));
        assert_eq!(csv.len(), 1 + l.series.len());
        // The first interval: nothing had ended (empty success and overhead), no CPU reading.
        assert_eq!(csv[1], "1,100,100,100,0,0,,,");
        let last = l.series.last().unwrap();
        let cells: Vec<&str> = csv.last().unwrap().split(',').collect();
        assert_eq!(cells.len(), HEADER.len());
        assert_eq!(cells[0], last.t.to_string());
        assert_eq!(cells[4], last.in_flight.to_string());
        assert_eq!(cells[8], last.cpu.unwrap().to_string());
    }

    #[test]
    fn the_rows_read_back_as_the_samples() {
        let l = fixture::load();
        let bytes = load_csv(&l);
        let mut r = ::csv::Reader::from_reader(bytes.as_slice());
        let parsed: Vec<LoadSample> = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap();
                let f = |i: usize| rec[i].parse::<f64>().unwrap();
                let o = |i: usize| (!rec[i].is_empty()).then(|| f(i));
                LoadSample {
                    t: f(0),
                    target_rate: f(1),
                    achieved_rate: f(2),
                    completed_rate: f(3),
                    in_flight: rec[4].parse().unwrap(),
                    dropped: rec[5].parse().unwrap(),
                    success_rate: o(6),
                    overhead_p99: o(7),
                    cpu: o(8),
                }
            })
            .collect();
        assert_eq!(parsed, l.series);
    }

    #[test]
    fn an_empty_series_has_the_header_only() {
        let csv = lines(&load_csv(&fixture::empty_load()));
        assert_eq!(csv, [HEADER.join(",")]);
    }
}
