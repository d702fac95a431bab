//! TLS for reaching `https://` cams: one rustls client configuration (ring)
//! shared by the HTTP, SSE and WebSocket clients, trusting the Mozilla
//! roots plus an optional CA file (for self-signed cams), and self-signed
//! certificates for simulator targets that serve TLS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The client configuration for a target, trusting the Mozilla roots and
/// the certificates in `ca_file` (PEM) if given.
///
/// # Errors
/// The CA file cannot be read, holds no certificate, or one is invalid.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect())
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {}: no certificate in it", path.display()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as
/// `cert.pem` and `key.pem` into `dir`; the certificate doubles as the CA
/// file that trusts it. Returns `(cert, key)` paths.
///
/// # Errors
/// The certificate cannot be made or the files written.
pub fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let cert = rcgen::generate_simple_self_signed(names).map_err(|e| format!("self-signed certificate: {e}"))?;
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok((cert_path, key_path))
}
