//! One line for an error and its causes, for logs and command-line messages.

use std::error::Error;

/// `error: cause: cause…`. Many errors already print their cause in their own message (`{path}:
/// {source}`), and some libraries print only the outer part (reqwest names the request, not why
/// it failed), so a cause is added only when its text is not already in the line.
pub fn error_chain(e: &dyn Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

/// The rustls error somewhere in `e`'s chain, directly or inside an `io::Error` (how TLS
/// streams report it), if any.
pub fn rustls_cause<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cause: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        // An `io::Error`'s `source()` skips the error it wraps: look inside it too.
        if let Some(inner) = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(r) = rustls_cause(inner)
        {
            return Some(r);
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}")]
    struct ReadError {
        path: &'static str,
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("request failed")]
    struct Quiet {
        #[source]
        source: ReadError,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        let inner = ReadError {
            path: "/etc/asnd/asnd.toml",
            source: missing,
        };
        let expected = format!("cannot read /etc/asnd/asnd.toml: {}", inner.source);
        assert_eq!(error_chain(&inner), expected);
        // A quiet outer message gets its causes, each once.
        assert_eq!(
            error_chain(&Quiet { source: inner }),
            format!("request failed: {expected}")
        );
    }

    #[test]
    fn an_anyhow_context_chain_reads_as_one_line() {
        let e = anyhow::Error::new(std::io::Error::other("disk on fire"))
            .context("configuration asnd.toml");
        assert_eq!(
            error_chain(e.as_ref()),
            "configuration asnd.toml: disk on fire"
        );
    }
}
