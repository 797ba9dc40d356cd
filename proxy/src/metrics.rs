//! Prometheus metrics, served as text on the admin listener's `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of `portcullis_requests`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `intercepted`, `tunnel` or `plain`.
    pub mode: &'static str,
    /// HTTP status answered (0 when none was).
    pub status: u16,
}

/// A single `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: &'static str,
}

/// A single `listener` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// Which listener accepted the connection.
    pub listener: &'static str,
}

/// A single `direction` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabels {
    /// `in` (client → origin) or `out` (origin → client).
    pub direction: &'static str,
}

/// Every metric the proxy maintains.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Client connections accepted, by listener.
    pub connections: Family<ListenerLabels, Counter>,
    /// Client connections open now.
    pub connections_open: Gauge,
    /// Requests (and tunnels) completed, by mode and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Upstream TLS failures, by reason.
    pub upstream_tls_errors: Family<ReasonLabels, Counter>,
    /// Leaves minted (cache misses).
    pub leaf_mints: Counter,
    /// Leaves served from the cache.
    pub leaf_cache_hits: Counter,
    /// Body and tunnel bytes relayed, by direction.
    pub bytes: Family<DirectionLabels, Counter>,
    /// Access records dropped because the log writer fell behind.
    pub records_dropped: Counter,
    /// DLP incidents recorded.
    pub dlp_incidents: Counter,
    /// Usage observations dropped (too many distinct rows waiting for a write).
    pub usage_dropped: Counter,
    /// Failed writes of usage rows (retried at the next flush).
    pub usage_write_errors: Counter,
    /// Policy decisions, by phase and action.
    pub decisions: Family<DecisionLabels, Counter>,
}

/// Labels of `portcullis_decisions`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `connect`, `request` or `after_dlp`.
    pub phase: &'static str,
    /// The action.
    pub action: &'static str,
}

impl Metrics {
    /// Encodes every metric in the Prometheus / OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut registry = Registry::with_prefix("portcullis");
        registry.register(
            "connections",
            "Client connections accepted",
            self.connections.clone(),
        );
        registry.register(
            "connections_open",
            "Client connections open now",
            self.connections_open.clone(),
        );
        registry.register(
            "requests",
            "Requests and tunnels completed, by mode and status",
            self.requests.clone(),
        );
        registry.register(
            "upstream_tls_errors",
            "Upstream TLS failures by reason",
            self.upstream_tls_errors.clone(),
        );
        registry.register(
            "leaf_mints",
            "Leaf certificates minted",
            self.leaf_mints.clone(),
        );
        registry.register(
            "leaf_cache_hits",
            "Leaf certificates served from the cache",
            self.leaf_cache_hits.clone(),
        );
        registry.register("bytes", "Bytes relayed by direction", self.bytes.clone());
        registry.register(
            "records_dropped",
            "Access records dropped because the writer fell behind",
            self.records_dropped.clone(),
        );
        registry.register(
            "dlp_incidents",
            "DLP incidents recorded",
            self.dlp_incidents.clone(),
        );
        registry.register(
            "usage_dropped",
            "Usage observations dropped because too many rows waited for a write",
            self.usage_dropped.clone(),
        );
        registry.register(
            "usage_write_errors",
            "Failed writes of usage rows to the usage database",
            self.usage_write_errors.clone(),
        );
        registry.register(
            "decisions",
            "Policy decisions by phase and action",
            self.decisions.clone(),
        );
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// Counts a completed request.
    pub fn request(&self, mode: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { mode, status })
            .inc();
    }

    /// Counts a policy decision.
    pub fn decision(&self, phase: &'static str, action: &'static str) {
        self.decisions
            .get_or_create(&DecisionLabels { phase, action })
            .inc();
    }

    /// Counts relayed bytes.
    pub fn relayed(&self, bytes_in: u64, bytes_out: u64) {
        self.bytes
            .get_or_create(&DirectionLabels { direction: "in" })
            .inc_by(bytes_in);
        self.bytes
            .get_or_create(&DirectionLabels { direction: "out" })
            .inc_by(bytes_out);
    }
}
