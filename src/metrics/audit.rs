//! The audit trail on disk: every router event as one JSON line, streamed (never held in memory).
//!
//! Destinations are already masked by the router's event types; the writer adds the policy name
//! so the lines of several policies can live in one file. A trail may start with a `config`
//! line ([`AuditWriter::write_config`]): the routing table (each route's index, provider,
//! country, number type, cost) and the policy, so the events' route indices can be read
//! without the scenario (`failover-lab fit` reads it).

use std::io::Write;
use std::sync::Mutex;

use failover_router::{EventSink, RouterEvent};

pub struct AuditWriter<W: Write + Send> {
    prefix: Vec<u8>,
    inner: Mutex<AuditState<W>>,
}

struct AuditState<W> {
    out: W,
    line: Vec<u8>,
    /// The first write error; later events are dropped and the error is reported by `finish`.
    error: Option<std::io::Error>,
}

impl<W: Write + Send> AuditWriter<W> {
    pub fn new(out: W, policy: &str) -> Self {
        let mut prefix = b"{\"policy\":".to_vec();
        serde_json::to_writer(&mut prefix, policy).expect("a string serializes");
        prefix.push(b',');
        AuditWriter {
            prefix,
            inner: Mutex::new(AuditState {
                out,
                line: Vec::with_capacity(512),
                error: None,
            }),
        }
    }

    /// Writes the `config` line: what the events' route indices mean and the policy they ran
    /// under. Call it before the first event.
    pub fn write_config(
        &self,
        routes: &[failover_router::RouteSpec],
        policy: &failover_router::Policy,
    ) {
        #[derive(serde::Serialize)]
        struct Config<'a> {
            r#type: &'static str,
            routes: Vec<IndexedRoute<'a>>,
            settings: &'a failover_router::Policy,
        }
        #[derive(serde::Serialize)]
        struct IndexedRoute<'a> {
            route: usize,
            #[serde(flatten)]
            spec: &'a failover_router::RouteSpec,
        }
        let config = Config {
            r#type: "config",
            routes: routes
                .iter()
                .enumerate()
                .map(|(route, spec)| IndexedRoute { route, spec })
                .collect(),
            settings: policy,
        };
        let mut st = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if st.error.is_some() {
            return;
        }
        let AuditState { out, line, error } = &mut *st;
        line.clear();
        line.extend_from_slice(&self.prefix);
        if serde_json::to_writer(&mut *line, &config).is_err() {
            return;
        }
        line.remove(self.prefix.len());
        line.push(b'\n');
        if let Err(e) = out.write_all(line) {
            *error = Some(e);
        }
    }

    /// Flushes what was written so far, or reports the first error met.
    pub fn flush(&self) -> std::io::Result<()> {
        let mut st = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = st.error.take() {
            return Err(e);
        }
        st.out.flush()
    }

    /// Flushes and returns the writer, or the first error met.
    pub fn finish(self) -> std::io::Result<W> {
        let mut st = self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = st.error.take() {
            return Err(e);
        }
        st.out.flush()?;
        Ok(st.out)
    }
}

impl<W: Write + Send + 'static> EventSink for AuditWriter<W> {
    fn emit(&self, event: &RouterEvent<'_>) {
        let mut st = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if st.error.is_some() {
            return;
        }
        let AuditState { out, line, error } = &mut *st;
        line.clear();
        line.extend_from_slice(&self.prefix);
        if serde_json::to_writer(&mut *line, event).is_err() {
            return;
        }
        // `{"policy":"x",` + the event's fields without its opening brace.
        line.remove(self.prefix.len());
        line.push(b'\n');
        if let Err(e) = out.write_all(line) {
            *error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_router::event::{PanicChange, RouterEvent};
    use failover_router::{Country, NumberType};
    use std::time::Duration;

    #[test]
    fn writes_one_json_object_per_event_with_the_policy() {
        let w = AuditWriter::new(Vec::new(), "a \"quoted\" policy");
        let e = PanicChange {
            at: Duration::from_millis(1500),
            country: Country::new("DE").unwrap(),
            number_type: NumberType::Mobile,
        };
        w.emit(&RouterEvent::PanicEnter(e));
        w.emit(&RouterEvent::PanicExit(e));
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["policy"], "a \"quoted\" policy");
        assert_eq!(lines[0]["type"], "panic_enter");
        assert_eq!(lines[1]["at"], 1.5);
    }
}
