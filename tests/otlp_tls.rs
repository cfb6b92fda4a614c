//! OTLP over HTTPS to a local collector with its own CA (made here with rcgen): delivered
//! when the daemon is given that CA, refused with a message that names the certificate
//! problem when it is given another, and with mutual TLS delivered with the client
//! certificate and refused without it. The collector is rustls on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::daemon::{DaemonGuard, health, write_config};
use common::{Sandbox, wait_until};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const LIMIT: Duration = Duration::from_secs(30);

struct Ca {
    cert: Certificate,
    key: KeyPair,
    pem: String,
    der: CertificateDer<'static>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        der: cert.der().clone(),
        cert,
        key,
    }
}

/// A certificate for `purpose` signed by `ca`: (PEM, DER, key PEM, key DER).
fn leaf(
    ca: &Ca,
    purpose: ExtendedKeyUsagePurpose,
) -> (String, CertificateDer<'static>, String, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params.extended_key_usages = vec![purpose];
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        key.serialize_pem(),
        key.serialize_der(),
    )
}

/// An HTTPS collector answering 200 to every request; counts the `/v1/logs` ones.
struct TlsCollector {
    port: u16,
    logs: Arc<AtomicUsize>,
}

fn serve(ca: &Ca, client_ca: Option<&Ca>) -> TlsCollector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (_, cert, _, key) = leaf(ca, ExtendedKeyUsagePurpose::ServerAuth);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(client_ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(client_ca.der.clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = Arc::new(
        builder
            .with_single_cert(
                vec![cert],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            )
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let logs = Arc::new(AtomicUsize::new(0));
    let counter = logs.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (config, counter) = (config.clone(), counter.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                // A refused handshake ends here, as the client sees it.
                let _ = answer_all(&mut tls, &counter);
            });
        }
    });
    TlsCollector { port, logs }
}

/// HTTP/1.1 requests on one connection, each answered `200 OK`, until it closes.
fn answer_all(tls: &mut impl ReadWrite, logs: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(tls);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        if request_line.contains("/v1/logs") {
            logs.fetch_add(1, Ordering::SeqCst);
        }
        let out = reader.get_mut();
        out.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        )?;
        out.flush()?;
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A daemon sending three events to `c` with the given OTLP TLS settings.
fn send(sb: &Sandbox, c: &TlsCollector, env: &[(&str, String)]) -> DaemonGuard {
    write_config(sb, "otlp_signals = [\"logs\"]");
    for i in 0..3 {
        let ev = format!(r#"{{"hook_event_name":"Stop","session_id":"tls-{i}"}}"#);
        assert!(
            sb.hook(&["--client", "claude-code"], ev.as_bytes())
                .status
                .success()
        );
    }
    let url = format!("otlp+https://127.0.0.1:{}", c.port);
    DaemonGuard::foreground_with(sb, &["--endpoint", &url], |cmd| {
        for (k, v) in env {
            cmd.env(k, v);
        }
    })
}

#[test]
fn a_private_ca_is_trusted_and_another_is_refused_by_name() {
    let trusted = ca("difflore test CA");
    let c = serve(&trusted, None);

    let sb = Sandbox::new();
    let pem = write(sb.dir.path(), "ca.pem", &trusted.pem);
    let d = send(&sb, &c, &[("OTEL_EXPORTER_OTLP_CERTIFICATE", pem)]);
    assert!(
        wait_until(LIMIT, || sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );
    assert!(c.logs.load(Ordering::SeqCst) >= 1);

    let sb = Sandbox::new();
    let other = write(sb.dir.path(), "other.pem", &ca("someone else's CA").pem);
    let d = send(&sb, &c, &[("OTEL_EXPORTER_OTLP_CERTIFICATE", other)]);
    assert!(
        wait_until(LIMIT, || health(&sb)
            .and_then(|h| h.last_error)
            .is_some_and(|e| e.to_ascii_lowercase().contains("certificate"))),
        "{:?}\n{}",
        health(&sb).and_then(|h| h.last_error),
        d.log_text()
    );
    // Nothing is lost or buried: back to pending (a retry may hold them in flight a moment).
    assert!(
        wait_until(LIMIT, || sb.count("state = 'pending'") == 3),
        "{}",
        d.log_text()
    );
    assert_eq!(sb.count("state IN ('dead', 'delivered')"), 0);
}

#[test]
fn mutual_tls_delivers_with_the_client_certificate_and_not_without() {
    let server_ca = ca("difflore server CA");
    let client_ca = ca("difflore client CA");
    let c = serve(&server_ca, Some(&client_ca));
    let (cert, _, key, _) = leaf(&client_ca, ExtendedKeyUsagePurpose::ClientAuth);

    let sb = Sandbox::new();
    let dir = sb.dir.path();
    let env = [
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            write(dir, "ca.pem", &server_ca.pem),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            write(dir, "client.pem", &cert),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            write(dir, "client.key", &key),
        ),
    ];
    let d = send(&sb, &c, &env);
    assert!(
        wait_until(LIMIT, || sb.count("state != 'delivered'") == 0),
        "{}",
        d.log_text()
    );

    let sb = Sandbox::new();
    let ca_only = [(
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        write(sb.dir.path(), "ca.pem", &server_ca.pem),
    )];
    let before = c.logs.load(Ordering::SeqCst);
    let d = send(&sb, &c, &ca_only);
    assert!(
        wait_until(LIMIT, || health(&sb).and_then(|h| h.last_error).is_some()),
        "{}",
        d.log_text()
    );
    assert!(
        wait_until(LIMIT, || sb.count("state = 'pending'") == 3),
        "{}",
        d.log_text()
    );
    assert_eq!(sb.count("state IN ('dead', 'delivered')"), 0);
    assert_eq!(
        c.logs.load(Ordering::SeqCst),
        before,
        "no request got through"
    );
}
