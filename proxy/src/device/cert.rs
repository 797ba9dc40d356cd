//! The device (and optionally user) named by a client certificate.

use x509_parser::prelude::*;

/// A device identified by its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDevice {
    /// Device id: the SAN URI `urn:device:<id>` if present, else the subject CN.
    pub id: String,
    /// The user the certificate names (SAN email, else none).
    pub user: Option<String>,
}

/// Extracts the device id (and user) from a DER client certificate that the
/// TLS layer has already verified against the device CA.
pub fn device_from_certificate(der: &[u8]) -> Option<CertDevice> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut id = None;
    let mut user = None;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(uri) => {
                    if let Some(rest) = uri.strip_prefix("urn:device:") {
                        id.get_or_insert_with(|| rest.to_owned());
                    }
                }
                GeneralName::RFC822Name(mail) => {
                    user.get_or_insert_with(|| (*mail).to_owned());
                }
                _ => {}
            }
        }
    }
    let id = id.or_else(|| {
        cert.subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
    })?;
    (!id.is_empty()).then_some(CertDevice { id, user })
}
