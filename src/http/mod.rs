//! The HTTP transport shared by the REST tracking store ([`crate::store::rest`]) and the
//! proxied artifact repository ([`crate::artifacts::http`]): the blocking client (ureq + rustls,
//! one connection pool), MLflow's retry policy with backoff, MLflow's errors from responses, and
//! [`RestConfig`], the server's address, credentials, TLS and timeouts from MLflow's
//! environment variables.
//!
//! It sits below the stores and the artifact repositories, so neither borrows the other's.

mod client;
mod config;

pub use config::{Auth, RestConfig};

pub(crate) use client::{Body, HttpClient, Method, Request, map_message, read_json_body};
pub(crate) use config::redact as redact_url;

/// Decodes `%XX` escapes of a URI part (invalid escapes stay as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
