//! Devices: known by a client certificate issued by the device CA (on the
//! HTTPS-proxy listener), reporting posture through the admin API.
//!
//! A device that presented a valid certificate is *managed*; anything else is
//! *unmanaged*. A managed device is *compliant* while its last posture report
//! is fresher than `devices.posture_ttl` and every check listed in
//! `devices.require` holds; stale or missing posture is non-compliant.

mod cert;
mod posture;

pub use cert::{device_from_certificate, CertDevice};
pub use posture::{PostureReport, PostureStore, TokenCheck};

use policy::context::{Device, Posture};

use crate::config::DevicesSection;

/// Fills the policy's device facts for `device` (None: unmanaged).
pub fn device_facts(
    store: &PostureStore,
    config: &DevicesSection,
    device: Option<&CertDevice>,
) -> Device {
    let Some(device) = device else {
        return Device::default();
    };
    let mut facts = Device {
        id: Some(device.id.clone()),
        managed: true,
        ..Device::default()
    };
    if let Some(report) = store.get(&device.id) {
        facts.os = report.os.clone();
        facts.os_version = report.os_version.clone();
        facts.posture = Posture {
            disk_encryption: report.disk_encryption,
            edr_running: report.edr_running,
            firewall: report.firewall,
            screen_lock: report.screen_lock,
        };
        facts.last_report_unix = Some(report.reported_unix);
        facts.compliant = config.require.iter().all(|check| match check.as_str() {
            "disk_encryption" => report.disk_encryption == Some(true),
            "edr_running" => report.edr_running == Some(true),
            "firewall" => report.firewall == Some(true),
            "screen_lock" => report.screen_lock == Some(true),
            _ => false,
        });
    }
    facts
}
