//! Prometheus text metrics for the admin port.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    /// Responses by status class: 2xx, 3xx, 4xx, 5xx.
    by_class: [AtomicU64; 4],
}

impl Metrics {
    pub fn record(&self, status: u16) {
        let i = match status {
            200..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        self.by_class[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut s = String::from(
            "# HELP ksan_s3_responses_total S3 responses by status class.\n# TYPE ksan_s3_responses_total counter\n",
        );
        for (i, class) in ["2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
            let _ = writeln!(
                s,
                "ksan_s3_responses_total{{class=\"{class}\"}} {}",
                self.by_class[i].load(Ordering::Relaxed)
            );
        }
        s
    }
}
