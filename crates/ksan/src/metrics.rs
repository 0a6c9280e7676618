//! Prometheus text metrics for the admin port.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use ksan_engine::integrity::IntegrityCounters;
use ksan_engine::workers::{LifecycleStats, WorkerStatus};

/// A metric family of the workers: name, type, help, how to read its value.
type Family = (&'static str, &'static str, &'static str, fn(&WorkerStatus) -> String);

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

    /// The metrics text: responses by class, corruption found, what the lifecycle executor
    /// did and where its pass stands, and each background worker's status.
    pub fn render(
        &self,
        workers: &[WorkerStatus],
        integrity: &IntegrityCounters,
        lifecycle: &LifecycleStats,
    ) -> String {
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
        for (name, help, value) in [
            (
                "ksan_corrupt_reads_total",
                "GETs cut short because stored bytes did not match their checksum.",
                &integrity.corrupt_reads,
            ),
            (
                "ksan_corrupt_objects_found_total",
                "Object versions the integrity scrubber found corrupt.",
                &integrity.corrupt_found,
            ),
            (
                "ksan_verified_bytes_total",
                "Stored bytes the integrity scrubber re-read and verified.",
                &integrity.verified_bytes,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP ksan_lifecycle_actions_total What the lifecycle executor carried out, by action.\n# TYPE ksan_lifecycle_actions_total counter"
        );
        for (action, value) in [
            ("expire_current", &lifecycle.expired),
            ("remove_noncurrent", &lifecycle.noncurrent_removed),
            ("remove_delete_marker", &lifecycle.delete_markers_removed),
            ("transition", &lifecycle.transitioned),
            ("abort_upload", &lifecycle.uploads_aborted),
        ] {
            let _ = writeln!(
                s,
                "ksan_lifecycle_actions_total{{action=\"{action}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let started = lifecycle.pass_started_ms.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "ksan_lifecycle_held_total",
                "counter",
                "Removals the lifecycle rules asked for that object lock refused (each pass that finds them).",
                lifecycle.held.load(Ordering::Relaxed).to_string(),
            ),
            (
                "ksan_lifecycle_scanned_total",
                "counter",
                "Version and upload rows the lifecycle executor walked.",
                lifecycle.scanned.load(Ordering::Relaxed).to_string(),
            ),
            (
                "ksan_lifecycle_passes_total",
                "counter",
                "Lifecycle passes finished.",
                lifecycle.passes.load(Ordering::Relaxed).to_string(),
            ),
            (
                "ksan_lifecycle_pass_running",
                "gauge",
                "1 while a lifecycle pass is under way.",
                u8::from(started > 0).to_string(),
            ),
            (
                "ksan_lifecycle_pass_started_seconds",
                "gauge",
                "When the pass under way began (seconds since the epoch; 0: none).",
                format!("{:.3}", started as f64 / 1000.0),
            ),
            (
                "ksan_lifecycle_pass_scanned",
                "gauge",
                "Rows the pass under way (or the last one) has walked.",
                lifecycle.pass_scanned.load(Ordering::Relaxed).to_string(),
            ),
            (
                "ksan_lifecycle_last_pass_seconds",
                "gauge",
                "How long the last finished lifecycle pass took.",
                format!("{:.3}", lifecycle.last_pass_ms.load(Ordering::Relaxed) as f64 / 1000.0),
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        let families: [Family; 5] = [
            (
                "ksan_worker_passes_total",
                "counter",
                "Work passes a background worker ran.",
                |w| w.passes.to_string(),
            ),
            (
                "ksan_worker_items_total",
                "counter",
                "Items a background worker carried out.",
                |w| w.items_done.to_string(),
            ),
            ("ksan_worker_errors_total", "counter", "Work passes that failed.", |w| {
                w.errors.to_string()
            }),
            (
                "ksan_worker_backlog",
                "gauge",
                "Work a background worker has waiting.",
                |w| w.backlog.to_string(),
            ),
            (
                "ksan_worker_last_run_seconds",
                "gauge",
                "When a background worker last ran (seconds since the epoch).",
                |w| format!("{:.3}", w.last_run_ms as f64 / 1000.0),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for w in workers {
                let _ = writeln!(s, "{name}{{worker=\"{}\"}} {}", w.name, value(w));
            }
        }
        s
    }
}

/// Replication by destination: totals since start, and the backlog (items waiting and the
/// age of the oldest) read from the queue.
pub fn render_replication(
    stats: &std::collections::BTreeMap<String, ksan_engine::workers::replicate::TargetStats>,
    backlog: &std::collections::BTreeMap<String, ksan_engine::workers::replicate::Backlog>,
) -> String {
    let mut targets: std::collections::BTreeSet<&String> = stats.keys().collect();
    targets.extend(backlog.keys());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let mut s = String::new();
    let families: [(&str, &str, &str); 5] = [
        (
            "ksan_replication_objects_total",
            "counter",
            "Versions and metadata changes carried to a destination.",
        ),
        (
            "ksan_replication_bytes_total",
            "counter",
            "Bytes written to a destination (shared blobs copy none).",
        ),
        (
            "ksan_replication_failures_total",
            "counter",
            "Tries a destination refused (each is retried).",
        ),
        (
            "ksan_replication_backlog",
            "gauge",
            "Replication items waiting for a destination.",
        ),
        (
            "ksan_replication_oldest_pending_seconds",
            "gauge",
            "How long the oldest item waiting for a destination has waited.",
        ),
    ];
    for (i, (name, kind, help)) in families.iter().enumerate() {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for t in &targets {
            let st = stats.get(*t).cloned().unwrap_or_default();
            let b = backlog.get(*t).cloned().unwrap_or_default();
            let value = match i {
                0 => st.objects.to_string(),
                1 => st.bytes.to_string(),
                2 => st.failures.to_string(),
                3 => b.items.to_string(),
                _ if b.items == 0 => "0".to_owned(),
                _ => format!("{:.3}", (now_ms - b.oldest_due_ms).max(0) as f64 / 1000.0),
            };
            let _ = writeln!(s, "{name}{{target=\"{t}\"}} {value}");
        }
    }
    let _ = writeln!(
        s,
        "# HELP ksan_replication_latency_seconds From a version's write to its replica, over the last 10,000 carried.\n# TYPE ksan_replication_latency_seconds summary"
    );
    for t in &targets {
        let Some(st) = stats.get(*t) else { continue };
        for q in [0.5, 0.99] {
            if let Some(ms) = st.latency_quantile(q) {
                let _ = writeln!(
                    s,
                    "ksan_replication_latency_seconds{{target=\"{t}\",quantile=\"{q}\"}} {:.3}",
                    f64::from(ms) / 1000.0
                );
            }
        }
    }
    s
}
