//! Service metrics, rendered in the Prometheus text format at `GET /metrics`: queue depth,
//! jobs running, proofs done and failed, requests turned away, HTTP responses by class, and a
//! histogram of prove times. Counters count since the process started.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds (seconds) of the prove-time histogram buckets.
pub const PROVE_BUCKETS: [f64; 12] = [
    0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];

/// Counters and the prove-time histogram.
#[derive(Debug, Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    pub rejected_queue_full: AtomicU64,
    pub proofs_done: AtomicU64,
    pub proofs_failed: AtomicU64,
    /// Jobs found queued or interrupted in the database at startup.
    pub recovered: AtomicU64,
    pub verify_requests: AtomicU64,
    /// HTTP responses by class: 2xx, 3xx, 4xx, 5xx.
    pub responses: [AtomicU64; 4],
    prove: Mutex<Histogram>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Cumulative counts per bucket of [`PROVE_BUCKETS`].
    buckets: [u64; PROVE_BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Gauges read at render time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauges {
    pub queue_depth: usize,
    pub queue_limit: usize,
    pub running: usize,
    pub workers: usize,
}

impl Metrics {
    /// Records one finished proof's time.
    pub fn observe_prove(&self, seconds: f64) {
        let Ok(mut h) = self.prove.lock() else {
            return;
        };
        for (b, &le) in h.buckets.iter_mut().zip(&PROVE_BUCKETS) {
            if seconds <= le {
                *b += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Mean prove time so far, if any proof finished.
    pub fn mean_prove_seconds(&self) -> Option<f64> {
        let h = self.prove.lock().ok()?;
        (h.count > 0).then(|| h.sum / h.count as f64)
    }

    pub fn count_response(&self, status: u16) {
        let class = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, g: Gauges) -> String {
        let mut s = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, String)]| {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(s, "{name}{labels} {value}");
            }
        };
        let one = |v: String| vec![(String::new(), v)];
        metric(
            "vouch_queue_depth",
            "gauge",
            "Jobs waiting for a worker.",
            &one(g.queue_depth.to_string()),
        );
        metric(
            "vouch_queue_limit",
            "gauge",
            "Queued jobs above which predictions are turned away (429).",
            &one(g.queue_limit.to_string()),
        );
        metric(
            "vouch_jobs_running",
            "gauge",
            "Jobs being proven.",
            &one(g.running.to_string()),
        );
        metric(
            "vouch_workers",
            "gauge",
            "Proving workers.",
            &one(g.workers.to_string()),
        );
        metric(
            "vouch_jobs_accepted_total",
            "counter",
            "Predictions accepted as proving jobs.",
            &one(load(&self.accepted).to_string()),
        );
        metric(
            "vouch_jobs_rejected_total",
            "counter",
            "Predictions turned away because the queue was full.",
            &[(
                "{reason=\"queue_full\"}".into(),
                load(&self.rejected_queue_full).to_string(),
            )],
        );
        metric(
            "vouch_jobs_recovered_total",
            "counter",
            "Jobs found queued or interrupted in the database at startup.",
            &one(load(&self.recovered).to_string()),
        );
        metric(
            "vouch_proofs_total",
            "counter",
            "Proving jobs finished, by result.",
            &[
                (
                    "{result=\"done\"}".into(),
                    load(&self.proofs_done).to_string(),
                ),
                (
                    "{result=\"failed\"}".into(),
                    load(&self.proofs_failed).to_string(),
                ),
            ],
        );
        metric(
            "vouch_verify_requests_total",
            "counter",
            "Proofs checked by POST /v1/verify.",
            &one(load(&self.verify_requests).to_string()),
        );
        metric(
            "vouch_http_responses_total",
            "counter",
            "HTTP responses by status class.",
            &["2xx", "3xx", "4xx", "5xx"]
                .iter()
                .zip(&self.responses)
                .map(|(c, n)| (format!("{{class=\"{c}\"}}"), load(n).to_string()))
                .collect::<Vec<_>>(),
        );
        let h = self.prove.lock().map(|h| h.clone()).unwrap_or_default();
        let mut lines: Vec<(String, String)> = PROVE_BUCKETS
            .iter()
            .zip(&h.buckets)
            .map(|(le, n)| (format!("_bucket{{le=\"{le}\"}}"), n.to_string()))
            .collect();
        lines.push(("_bucket{le=\"+Inf\"}".into(), h.count.to_string()));
        lines.push(("_sum".into(), format!("{}", h.sum)));
        lines.push(("_count".into(), h.count.to_string()));
        metric(
            "vouch_prove_seconds",
            "histogram",
            "Time to prove one job (proving key and proof).",
            &lines,
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe_prove(0.7);
        m.observe_prove(4.0);
        m.observe_prove(1000.0);
        m.count_response(200);
        m.count_response(429);
        let text = m.render(Gauges {
            queue_depth: 3,
            queue_limit: 8,
            running: 1,
            workers: 1,
        });
        for line in [
            "vouch_queue_depth 3",
            "vouch_prove_seconds_bucket{le=\"0.5\"} 0",
            "vouch_prove_seconds_bucket{le=\"1\"} 1",
            "vouch_prove_seconds_bucket{le=\"5\"} 2",
            "vouch_prove_seconds_bucket{le=\"300\"} 2",
            "vouch_prove_seconds_bucket{le=\"+Inf\"} 3",
            "vouch_prove_seconds_count 3",
            "vouch_http_responses_total{class=\"4xx\"} 1",
            "# TYPE vouch_prove_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line '{line}' in\n{text}"
            );
        }
        assert!((m.mean_prove_seconds().unwrap_or(0.0) - 1004.7 / 3.0).abs() < 1e-9);
    }
}
