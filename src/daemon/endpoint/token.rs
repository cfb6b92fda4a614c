//! The bearer token (`DIFFLORE_TOKEN`, else the first line of a private `token_file`) and
//! the `Authorization` header it becomes. The value is marked sensitive and never shown.

use std::os::unix::fs::PermissionsExt;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::{EndpointError, TOKEN_VAR};
use crate::shared::config::Config;

/// The headers every HTTP sink sends: `Authorization: Bearer …` when a token is set.
pub fn headers(config: &Config) -> Result<HeaderMap, EndpointError> {
    let mut headers = HeaderMap::new();
    if let Some(token) = token(config)? {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| EndpointError::TokenValue)?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

/// `DIFFLORE_TOKEN`, else the first line of `token_file` (which must be private).
pub fn token(config: &Config) -> Result<Option<String>, EndpointError> {
    if let Some(t) = std::env::var(TOKEN_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Some(t.trim().to_owned()));
    }
    let Some(path) = &config.token_file else {
        return Ok(None);
    };
    let read_err = |source| EndpointError::TokenRead {
        path: path.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(EndpointError::TokenMode { path: path.clone() });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    Ok(text
        .lines()
        .next()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned))
}
