//! Who may use the console: the `[admin] token`, typed into the login form (which sets a session
//! cookie, HttpOnly and SameSite=Strict) or sent by scripts as `Authorization: Bearer <token>`.
//! Every comparison is in constant time. A state-changing request is a POST from the console's
//! own origin, and with the cookie it also carries the CSRF token of the console's forms.

use std::sync::Arc;

use aws_lc_rs::hmac;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use crate::config::{AdminConfig, Secret};
use crate::server::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "asnd_console";

/// The console's secrets: the token and what is derived from it. A new token ends every session
/// and changes the CSRF token.
#[derive(Clone, Debug)]
pub struct ConsoleAuth {
    token: Secret<String>,
    /// The session cookie's value: an HMAC of the token, so that the cookie is not the token.
    session: Secret<String>,
    /// The CSRF token of the console's forms.
    csrf: Secret<String>,
}

/// How a request proved it holds the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`: sent by scripts, never by a browser on its own, so it needs no
    /// CSRF token.
    Bearer,
    /// The session cookie: a browser sends it by itself, so a POST also needs the CSRF token.
    Cookie,
}

impl ConsoleAuth {
    /// The console's settings when `[admin] console = true` and a token is set (validation
    /// refuses the one without the other).
    pub fn from_config(admin: &AdminConfig) -> Option<ConsoleAuth> {
        // Surrounding white space (a token pasted into a file or a variable) is not the token's.
        let token = admin
            .token
            .as_ref()
            .filter(|_| admin.console)?
            .expose()
            .trim();
        // Never a console that an empty token opens (validation refuses it; this is the
        // backstop for a configuration that was not validated).
        if token.is_empty() {
            return None;
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
        let derive = |label: &str| {
            Secret::new(crate::apple::jws::b64url(
                hmac::sign(&key, label.as_bytes()).as_ref(),
            ))
        };
        Some(ConsoleAuth {
            token: Secret::new(token.to_owned()),
            session: derive("asnd console session"),
            csrf: derive("asnd console csrf"),
        })
    }

    /// Whether `presented` is the token.
    pub fn is_token(&self, presented: &str) -> bool {
        equal(presented, self.token.expose())
    }

    /// The CSRF token the console's forms carry.
    pub fn csrf(&self) -> &str {
        self.csrf.expose()
    }

    /// Whether a POST that came `via` may act: with the cookie, only with the forms' CSRF token.
    pub fn csrf_ok(&self, via: Via, presented: &str) -> bool {
        via == Via::Bearer || equal(presented, self.csrf.expose())
    }

    /// The `Set-Cookie` value of a new session.
    pub fn session_cookie(&self) -> String {
        cookie::Cookie::build((COOKIE, self.session.expose().clone()))
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .path("/")
            .build()
            .to_string()
    }

    /// The `Set-Cookie` value that ends a session.
    pub fn ended_cookie() -> String {
        cookie::Cookie::build((COOKIE, ""))
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .path("/")
            .max_age(cookie::time::Duration::ZERO)
            .build()
            .to_string()
    }

    /// How the request holds the token, if it does.
    pub fn authenticated(&self, headers: &HeaderMap) -> Option<Via> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(presented) = bearer {
            return self.is_token(presented.trim()).then_some(Via::Bearer);
        }
        let session = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .any(|c| c.name() == COOKIE && equal(c.value(), self.session.expose()));
        session.then_some(Via::Cookie)
    }
}

/// Constant-time equality (the length alone may show).
fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Why a POST is refused before anything else is looked at: it came from another site.
pub fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    // Browsers say where a request comes from; only the console's own pages may post.
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Some("the request came from another site");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let authority = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, authority)| authority);
        match (authority, host) {
            (Some(a), Some(h)) if a.eq_ignore_ascii_case(h) => {}
            _ => return Some("the request's Origin is not the console's"),
        }
    }
    None
}

/// Every console route but the login: a cross-site POST is refused (403), a request without the
/// token is sent to the login page, and every answer is kept out of caches and frames and may
/// run no script.
pub async fn guard(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let Some(auth) = state.console.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = if req.method() == Method::POST
        && let Some(why) = cross_site(req.headers())
    {
        tracing::warn!(path = req.uri().path(), why, "console: POST refused");
        super::ConsoleError::Forbidden(why.to_owned()).into_response()
    } else if req.uri().path() == "/login" {
        next.run(req).await
    } else {
        match auth.authenticated(req.headers()) {
            Some(via) => {
                req.extensions_mut().insert(via);
                next.run(req).await
            }
            None => to_login(&req),
        }
    };
    harden(response.headers_mut());
    response
}

/// A redirect to the login page, which sends the browser back to the page it asked for.
fn to_login(req: &Request) -> Response {
    let next = match req.method() {
        &Method::GET => req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
        _ => "/",
    };
    Redirect::to(&format!("/login?next={}", super::pages::encode(next))).into_response()
}

/// Headers of every console answer.
fn harden(headers: &mut HeaderMap) {
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Where the login sends the browser: a path of this site only.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> ConsoleAuth {
        ConsoleAuth::from_config(&AdminConfig {
            listen: None,
            console: true,
            token: Some("0123456789abcdef-token".into()),
        })
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_token_or_the_session_cookie_and_nothing_else() {
        let auth = auth();
        let bearer = headers(&[("authorization", "Bearer 0123456789abcdef-token")]);
        assert_eq!(auth.authenticated(&bearer), Some(Via::Bearer));
        let wrong = headers(&[("authorization", "Bearer 0123456789abcdef-tokeN")]);
        assert_eq!(auth.authenticated(&wrong), None);
        let session = auth.session_cookie();
        let value = session.split(';').next().unwrap();
        assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
        let cookie = headers(&[("cookie", &format!("other=1; {value}"))]);
        assert_eq!(auth.authenticated(&cookie), Some(Via::Cookie));
        // The cookie is not the token, and the token is not a cookie.
        assert!(!value.contains("0123456789abcdef-token"));
        let token_as_cookie = headers(&[("cookie", "asnd_console=0123456789abcdef-token")]);
        assert_eq!(auth.authenticated(&token_as_cookie), None);
        assert_eq!(auth.authenticated(&HeaderMap::new()), None);
        assert!(!format!("{auth:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn an_empty_token_opens_no_console() {
        for token in ["", "   "] {
            let admin = AdminConfig {
                listen: None,
                console: true,
                token: Some(token.into()),
            };
            assert!(ConsoleAuth::from_config(&admin).is_none());
        }
        let padded = AdminConfig {
            listen: None,
            console: true,
            token: Some(" 0123456789abcdef-token\n".into()),
        };
        assert!(
            ConsoleAuth::from_config(&padded)
                .unwrap()
                .is_token("0123456789abcdef-token")
        );
    }

    #[test]
    fn the_csrf_token_is_needed_with_the_cookie_only() {
        let auth = auth();
        assert!(auth.csrf_ok(Via::Cookie, auth.csrf()));
        assert!(!auth.csrf_ok(Via::Cookie, ""));
        assert!(!auth.csrf_ok(Via::Cookie, "0123456789abcdef-token"));
        assert!(auth.csrf_ok(Via::Bearer, ""));
    }

    #[test]
    fn cross_site_posts_are_named() {
        assert_eq!(
            cross_site(&headers(&[("sec-fetch-site", "same-origin")])),
            None
        );
        assert!(cross_site(&headers(&[("sec-fetch-site", "cross-site")])).is_some());
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])).is_some());
        let same = headers(&[
            ("origin", "http://localhost:9898"),
            ("host", "localhost:9898"),
        ]);
        assert_eq!(cross_site(&same), None);
        let other = headers(&[
            ("origin", "http://evil.example"),
            ("host", "localhost:9898"),
        ]);
        assert!(cross_site(&other).is_some());
        let null = headers(&[("origin", "null"), ("host", "localhost:9898")]);
        assert!(cross_site(&null).is_some());
        // Scripts (curl) send neither.
        assert_eq!(cross_site(&HeaderMap::new()), None);
    }

    #[test]
    fn the_login_only_sends_back_to_this_site() {
        assert_eq!(
            safe_next(Some("/quarantine?reason=X")),
            "/quarantine?reason=X"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
