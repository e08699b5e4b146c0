//! What the engine reports: findings, each with the measured evidence behind it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which finding it is: a stable snake_case identifier (`"excessive_round_trips"`), the
/// same in JSON, in the text reports and across releases.
///
/// The order of the variants is the order of the decision tree; findings of equal
/// severity are listed in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FindingId {
    /// Too many requests failed (success rate below `min_success_rate`).
    ServerExhaustion,
    /// p99/p50 above `severe_tail_ratio`.
    SevereContention,
    /// A threaded Python server is held at one core while the forking one scales.
    GilContention,
    /// The server uses (nearly) every core.
    ServerAtCapacity,
    /// Client and server together use (nearly) every core: the figures are the machine's.
    MachineSaturated,
    /// Requests that wait for a delayed ACK (Nagle's algorithm on a socket without
    /// `TCP_NODELAY`): about 40 ms each on Linux.
    DelayedAckStall,
    /// Many clients, few requests served at once (Little's law): a pool, a lock or a
    /// semaphore admits only that many.
    ConcurrencyLimit,
    /// High latency while the server's CPU is idle: it waits on something.
    IoBound,
    /// Every round trip costs at least the measured network floor.
    NetworkLatency,
    /// Many round trips per operation.
    ExcessiveRoundTrips,
    /// Data (objects, dicts, lists) received by reference and then read through the
    /// references, a round trip per read.
    ReferenceOverhead,
    /// Callbacks that call back into the server, nested deeply.
    DeepNesting,
}

impl FindingId {
    /// Every finding, in decision-tree order.
    pub const ALL: [FindingId; 12] = [
        FindingId::ServerExhaustion,
        FindingId::SevereContention,
        FindingId::GilContention,
        FindingId::ServerAtCapacity,
        FindingId::MachineSaturated,
        FindingId::DelayedAckStall,
        FindingId::ConcurrencyLimit,
        FindingId::IoBound,
        FindingId::NetworkLatency,
        FindingId::ExcessiveRoundTrips,
        FindingId::ReferenceOverhead,
        FindingId::DeepNesting,
    ];

    /// The stable snake_case identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingId::ServerExhaustion => "server_exhaustion",
            FindingId::SevereContention => "severe_contention",
            FindingId::GilContention => "gil_contention",
            FindingId::ServerAtCapacity => "server_at_capacity",
            FindingId::MachineSaturated => "machine_saturated",
            FindingId::DelayedAckStall => "delayed_ack_stall",
            FindingId::ConcurrencyLimit => "concurrency_limit",
            FindingId::IoBound => "io_bound",
            FindingId::NetworkLatency => "network_latency",
            FindingId::ExcessiveRoundTrips => "excessive_round_trips",
            FindingId::ReferenceOverhead => "reference_overhead",
            FindingId::DeepNesting => "deep_nesting",
        }
    }
}

impl fmt::Display for FindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent a finding is. Ordered most urgent first, so sorting puts critical first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The measurement itself is compromised (requests failed): fix this first.
    Critical,
    /// A performance problem with a known remedy.
    Warning,
    /// Worth knowing; may be inherent to the setup.
    Info,
}

impl Severity {
    /// `CRITICAL`, `WARNING` or `INFO`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
            Severity::Info => "INFO",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How a measured figure relates to its threshold for the finding to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// measured > threshold
    Above,
    /// measured ≥ threshold
    AtLeast,
    /// measured < threshold
    Below,
    /// measured ≤ threshold
    AtMost,
}

impl Comparison {
    /// The mathematical sign: `>`, `≥`, `<`, `≤`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => "≥",
            Comparison::Below => "<",
            Comparison::AtMost => "≤",
        }
    }

    /// Whether `measured` stands in this relation to `threshold`.
    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => measured > threshold,
            Comparison::AtLeast => measured >= threshold,
            Comparison::Below => measured < threshold,
            Comparison::AtMost => measured <= threshold,
        }
    }
}

/// One measured figure against its threshold: `p99/p50 = 14.2 > 10 (severe_tail_ratio)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured, in words a user can find in the result (`"p99/p50"`).
    pub metric: String,
    /// The measured value, in `unit`.
    pub measured: f64,
    /// The threshold it was compared with, in `unit`.
    pub threshold: f64,
    /// The relation that made the finding hold.
    pub comparison: Comparison,
    /// Unit of `measured` and `threshold` (`"ms"`, `"% of one core"`, `""`).
    pub unit: String,
    /// The [`Thresholds`](super::Thresholds) field that sets `threshold`.
    pub setting: String,
}

impl Evidence {
    /// Evidence without a unit.
    pub fn new(metric: &str, measured: f64, comparison: Comparison, threshold: f64, setting: &str) -> Evidence {
        Evidence {
            metric: metric.to_owned(),
            measured,
            threshold,
            comparison,
            unit: String::new(),
            setting: setting.to_owned(),
        }
    }

    /// Sets the unit.
    pub fn unit(mut self, unit: &str) -> Evidence {
        self.unit = unit.to_owned();
        self
    }

    /// Whether the relation holds (it always does for evidence the engine reports).
    pub fn holds(&self) -> bool {
        self.comparison.holds(self.measured, self.threshold)
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = if self.unit.is_empty() { String::new() } else { format!(" {}", self.unit) };
        write!(
            f,
            "{} = {}{unit} {} {}{unit} ({})",
            self.metric,
            number(self.measured),
            self.comparison.symbol(),
            number(self.threshold),
            self.setting
        )
    }
}

/// A figure with as many decimals as it needs to be read: 0.953, 14.2, 2480.
pub fn number(x: f64) -> String {
    let a = x.abs();
    if !x.is_finite() {
        format!("{x}")
    } else if a >= 100.0 || a == a.trunc() {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// One diagnosis: what is wrong, the measured evidence, why it matters and what to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Which finding (stable snake_case in JSON).
    pub id: FindingId,
    /// A short human title.
    pub title: String,
    /// How urgent.
    pub severity: Severity,
    /// What was measured: the benchmark result(s) or telemetry the evidence comes from.
    pub subject: String,
    /// The measured figures against their thresholds; every one holds.
    pub evidence: Vec<Evidence>,
    /// Further measured facts (failure groups, round trips by request type, …).
    pub details: Vec<String>,
    /// Why the evidence means what the title says.
    pub explanation: String,
    /// What to do.
    pub action: String,
}

/// Sorts findings: most severe first, then in decision-tree order, then by subject.
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| (a.severity, a.id, &a.subject).cmp(&(b.severity, b.id, &b.subject)));
}
