//! Writing DLP incidents and folding the verdict into the access record.

use policy::Decision;

use crate::records::{AccessRecord, IncidentRecord};
use crate::state::ProxyState;

/// Records an incident for `findings` (and blocked files) seen in one body,
/// and marks the access record with the DLP rule ids and the decision.
pub fn report(
    state: &ProxyState,
    record: &mut AccessRecord,
    direction: &'static str,
    findings: &[dlp::Finding],
    parts: &[dlp::decode::PartInfo],
    decision: &Decision,
) {
    for f in findings {
        if !record.dlp.iter().any(|r| **r == *f.rule) {
            record.dlp.push(f.rule.to_string());
        }
    }
    record.rule = Some(decision.rule_label().to_owned());
    record.action = Some(decision.action.as_str());
    let mut incident = IncidentRecord {
        record: "incident",
        time: crate::records::now_rfc3339(),
        request_id: record.request_id.clone(),
        direction,
        client: record.client,
        user: record.user.clone(),
        host: record.host.clone(),
        path: record.path.clone(),
        app: record.app.clone(),
        rules: Vec::new(),
        excerpts: Vec::new(),
        files: Vec::new(),
        policy_rule: decision.rule_label().to_owned(),
        action: decision.action.as_str(),
        severity: decision.severity.to_string(),
    };
    incident.evidence(findings, parts);
    state.incidents.write(&incident);
    state.metrics.dlp_incidents.inc();
}
