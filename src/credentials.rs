//! Access keys: static, from the environment, or from a provider the caller supplies.
//! Secrets are wiped on drop and never shown by `Debug`, in errors or in logs.

use crate::error::{Error, ErrorKind, Result};
use std::fmt;
use zeroize::Zeroizing;

/// An access key id, its secret and, for STS identities, a security token.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    secret: Zeroizing<String>,
    security_token: Option<Zeroizing<String>>,
}

impl Credentials {
    pub fn new(access_key_id: &str, secret: &str, security_token: Option<&str>) -> Result<Self> {
        if access_key_id.trim().is_empty() || secret.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::CredentialsMissing,
                "access key id and secret must not be empty",
            ));
        }
        // Both travel in request headers; neither value is repeated in the error.
        let header_safe = |v: &str| v.bytes().all(|b| b.is_ascii_graphic());
        if !header_safe(access_key_id) {
            return Err(Error::invalid_argument(
                "access key id: only printable ASCII without spaces is allowed",
            ));
        }
        if !security_token.is_none_or(header_safe) {
            return Err(Error::invalid_argument(
                "security token: only printable ASCII without spaces is allowed",
            ));
        }
        Ok(Credentials {
            access_key_id: access_key_id.to_string(),
            secret: Zeroizing::new(secret.to_string()),
            security_token: security_token
                .filter(|t| !t.is_empty())
                .map(|t| Zeroizing::new(t.to_string())),
        })
    }

    /// From `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` and optional `OSS_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match (var("OSS_ACCESS_KEY_ID"), var("OSS_ACCESS_KEY_SECRET")) {
            (Some(id), Some(secret)) => {
                let secret = Zeroizing::new(secret);
                let token = var("OSS_SESSION_TOKEN").map(Zeroizing::new);
                Credentials::new(&id, &secret, token.as_ref().map(|t| t.as_str()))
            }
            _ => Err(Error::new(
                ErrorKind::CredentialsMissing,
                "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not both set",
            )),
        }
    }

    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    pub(crate) fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    pub(crate) fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref().map(|t| t.as_str())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where credentials come from. Asked once, and again whenever the server says the
/// token expired or is invalid, so a provider can hand out refreshed STS credentials.
pub trait CredentialsProvider: Send + Sync {
    fn credentials(&self) -> Result<Credentials>;
}

impl CredentialsProvider for Credentials {
    fn credentials(&self) -> Result<Credentials> {
        Ok(self.clone())
    }
}

/// Reads the environment each time it is asked.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EnvironmentProvider;

impl CredentialsProvider for EnvironmentProvider {
    fn credentials(&self) -> Result<Credentials> {
        Credentials::from_env()
    }
}

impl<F> CredentialsProvider for F
where
    F: Fn() -> Result<Credentials> + Send + Sync,
{
    fn credentials(&self) -> Result<Credentials> {
        self()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret_or_token() {
        let creds = Credentials::new("AKID", "s3cr3t-value", Some("tok-value")).unwrap();
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKID"));
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("tok-value"),
            "{shown}"
        );
    }

    #[test]
    fn ids_and_tokens_that_could_break_a_header_are_invalid_arguments() {
        for (id, token) in [
            ("AK\r\nX-Evil: 1", None),
            ("AK", Some("tok\nen")),
            ("A K", None),
        ] {
            let e = Credentials::new(id, "secret", token).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            let named = if token.is_some() {
                "security token"
            } else {
                "access key id"
            };
            assert!(e.message().contains(named), "{e}");
        }
    }

    #[test]
    fn empty_keys_are_credentials_missing() {
        let e = Credentials::new("", "hunter2-xyz", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CredentialsMissing);
        assert!(!format!("{e} {e:?}").contains("hunter2"));
    }
}

/// Property tests of credentials: any id, secret and token are taken or refused cleanly,
/// never a panic, and never shown; the http crate's header values are the oracle.
#[cfg(test)]
mod properties {
    use super::Credentials;
    use crate::error::ErrorKind;
    use crate::testing::{config, header_text};
    use proptest::prelude::*;
    use proptest::sample::select;
    use ureq::http::HeaderValue;

    /// A secret or token with a mark that no message's fixed text holds, or a blank one.
    fn secret(mark: &'static str) -> impl Strategy<Value = String> {
        prop_oneof![
            1 => select(vec!["", " \t"]).prop_map(String::from),
            4 => header_text().prop_map(move |t| format!("{mark}{t}")),
        ]
    }

    proptest! {
        #![proptest_config(config())]

        /// Credentials: what is taken can be sent in headers; a refusal is CredentialsMissing
        /// or InvalidArgument; neither an error nor Debug ever shows the secret or the token.
        #[test]
        fn credentials_are_checked_and_never_shown(
            id in prop_oneof![header_text(), "[A-Za-z0-9]{1,24}"],
            secret in secret("s3cr3t:"),
            token in prop::option::of(secret("t0ken:")),
        ) {
            // The marked ones: a blank one is in any text.
            let hidden: Vec<&str> = [Some(secret.as_str()), token.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| s.contains(':'))
                .collect();
            let shown = match Credentials::new(&id, &secret, token.as_deref()) {
                Ok(c) => {
                    prop_assert!(HeaderValue::from_str(c.access_key_id()).is_ok());
                    prop_assert!(!c.access_key_id().contains(' '));
                    if let Some(t) = c.security_token() {
                        prop_assert!(HeaderValue::from_str(t).is_ok() && !t.contains(' '));
                    }
                    format!("{c:?}")
                }
                Err(e) => {
                    prop_assert!(matches!(
                        e.kind(),
                        ErrorKind::CredentialsMissing | ErrorKind::InvalidArgument
                    ));
                    format!("{e} {e:?}")
                }
            };
            prop_assert!(hidden.iter().all(|s| !shown.contains(s)), "{}", shown);
        }
    }
}
