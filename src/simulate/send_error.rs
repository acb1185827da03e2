//! What to tell the person running `asnd simulate` when a request got no answer: the usual
//! causes (nothing listening, a CA certificate on the receiver, a certificate nobody here trusts)
//! each get a sentence saying what to change.

use rustls::{CertificateError, Error as TlsError};

/// The error that stops a run: nothing can be delivered until the person changes something.
pub fn stops_a_run(e: &reqwest::Error) -> bool {
    e.is_connect() || crate::error_chain::rustls_cause(e).is_some()
}

/// One line: what went wrong and, for the usual causes, what to do.
pub fn describe(e: &reqwest::Error) -> String {
    let chain = crate::error_chain(e);
    let advice = match crate::error_chain::rustls_cause(e) {
        // rustls names a CA certificate used as a server's in webpki's words.
        _ if chain.contains("CaUsedAsEndEntity") => Some(CA_AS_SERVER.to_owned()),
        Some(TlsError::InvalidCertificate(CertificateError::UnknownIssuer)) => Some(
            "the receiver's certificate is signed by no CA trusted here: pass --cacert FILE with \
             that certificate (or the CA that signed it); the system's CA bundle is used without \
             --cacert, and --dev trusts asnd-dev/tls.pem"
                .to_owned(),
        ),
        Some(TlsError::InvalidCertificate(CertificateError::NotValidForName))
        | Some(TlsError::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
            Some(
                "the receiver's certificate does not name the host in --url: use the name it \
                 was made for (e.g. localhost), or a certificate with that name"
                    .to_owned(),
            )
        }
        Some(TlsError::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        )) => Some("the receiver's certificate has expired: renew it".to_owned()),
        Some(_) => None,
        None if e.is_connect() => Some(
            "nothing answers at that address: is `asnd serve --dev` (or the receiver at --url) \
             running?"
                .to_owned(),
        ),
        None if e.is_timeout() => {
            Some("no answer within --timeout: is the receiver overloaded or stuck?".to_owned())
        }
        None => None,
    };
    match advice {
        Some(advice) => format!("{chain}\n  {advice}"),
        None => chain,
    }
}

const CA_AS_SERVER: &str = "the receiver's certificate is a CA certificate (basicConstraints \
    CA:TRUE, what a plain `openssl req -x509` makes), and TLS clients refuse a CA certificate as \
    a server's: give the receiver a server certificate, e.g. `openssl req -x509 -newkey ec \
    -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=localhost -addext \
    subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE -keyout tls.key \
    -out tls.pem`, and pass that tls.pem as --cacert";
