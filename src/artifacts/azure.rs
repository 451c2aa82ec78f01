//! `wasbs://container@account.blob.core.windows.net/prefix` (Azure Blob Storage) and
//! `abfss://filesystem@account.dfs.core.windows.net/prefix` (ADLS Gen2) artifact URIs,
//! configured the way MLflow's Azure clients are, read and written through the Blob API by
//! [`ObjectStoreArtifactRepository`].
//!
//! | variable | meaning (as for MLflow) |
//! |---|---|
//! | [`AZURE_STORAGE_CONNECTION_STRING`] | a connection string: `AccountName`, `AccountKey` or `SharedAccessSignature`, and `BlobEndpoint` or `DefaultEndpointsProtocol` + `EndpointSuffix` (also `UseDevelopmentStorage=true`, Azurite); it wins over everything else, as in MLflow |
//! | [`AZURE_STORAGE_ACCESS_KEY`] | the account key of the URI's account (`https://<account>.blob.<suffix>`) |
//! | [`AZURE_STORAGE_SAS_TOKEN`] | a SAS token (MLflow's variable for `abfss://`) |
//! | `AZURE_CLIENT_ID` + `AZURE_TENANT_ID` + `AZURE_CLIENT_SECRET` or `AZURE_FEDERATED_TOKEN_FILE` | a service principal or workload identity (part of MLflow's `DefaultAzureCredential`) |
//!
//! An `abfss://` URI's file system is a Blob container of the same account, so it is read and
//! written through the Blob endpoint (`<account>.blob.<suffix>` for `<account>.dfs.<suffix>`).
//! When no credentials are set the repository is not created and the error names the
//! variables: no request is made and nothing waits on a managed-identity endpoint.

use std::sync::Arc;

use ::object_store::ObjectStore;
use ::object_store::azure::MicrosoftAzureBuilder;

use super::object_store::{
    ObjectStoreArtifactRepository, StoreContext, cached_store, client_options, env_var,
    install_crypto_provider, retry_config,
};
use crate::error::{Error, Result};

/// An Azure Storage connection string (MLflow's first choice).
pub const AZURE_STORAGE_CONNECTION_STRING: &str = "AZURE_STORAGE_CONNECTION_STRING";
/// The storage account's key (MLflow's second choice for `wasbs://`).
pub const AZURE_STORAGE_ACCESS_KEY: &str = "AZURE_STORAGE_ACCESS_KEY";
/// A SAS token (MLflow's choice for `abfss://`).
pub const AZURE_STORAGE_SAS_TOKEN: &str = "AZURE_STORAGE_SAS_TOKEN";

const CREDENTIALS_HINT: &str = "set AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCESS_KEY \
     with the account key, or AZURE_STORAGE_SAS_TOKEN)";

/// The account Azurite and the Azure SDKs' development storage use.
const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key (public, the same for every Azurite).
const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A `wasbs://` or `abfss://` URI split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureLocation {
    /// The Blob container (the file system of an `abfss://` URI).
    pub container: String,
    /// The storage account.
    pub account: String,
    /// The Blob endpoint's domain after the account, e.g. `blob.core.windows.net`.
    pub blob_suffix: String,
    /// Blob-name prefix of the artifact root, without leading or trailing `/`.
    pub prefix: String,
}

/// Parses `wasbs://container@account.blob.core.windows.net/path` (also the sovereign clouds'
/// `blob.core.chinacloudapi.cn` and `blob.core.usgovcloudapi.net`, as MLflow does, and `wasb://`)
/// and `abfss://filesystem@account.dfs.<suffix>/path` (also `abfs://`).
pub fn parse_azure_uri(uri: &str) -> Result<AzureLocation> {
    let trimmed = uri.trim();
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| Error::InvalidParameter(format!("not an Azure URI: {uri}")))?;
    let blob = matches!(scheme, "wasbs" | "wasb");
    if !blob && !matches!(scheme, "abfss" | "abfs") {
        return Err(Error::InvalidParameter(format!("not an Azure URI: {uri}")));
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (netloc, path) = rest.split_once('/').unwrap_or((rest, ""));
    let shape = if blob {
        "wasbs://<container>@<account>.blob.core.windows.net/<path>"
    } else {
        "abfss://<filesystem>@<account>.dfs.core.windows.net/<path>"
    };
    let bad = || Error::InvalidParameter(format!("the Azure URI {uri} is not of the form {shape}"));
    let (container, host) = netloc.split_once('@').ok_or_else(bad)?;
    let (account, suffix) = host.split_once('.').ok_or_else(bad)?;
    if container.is_empty() || account.is_empty() {
        return Err(bad());
    }
    let blob_suffix = if blob {
        if !matches!(
            suffix,
            "blob.core.windows.net" | "blob.core.chinacloudapi.cn" | "blob.core.usgovcloudapi.net"
        ) {
            return Err(bad());
        }
        suffix.to_string()
    } else {
        // The file system's blobs, through the account's Blob endpoint.
        match suffix.strip_prefix("dfs.") {
            Some(tail) => format!("blob.{tail}"),
            None => suffix.to_string(),
        }
    };
    // MLflow decodes abfss:// paths (the SDK quotes them again); wasbs:// paths are used as is.
    let prefix = if blob {
        path.to_string()
    } else {
        percent_decode(path)
    };
    Ok(AzureLocation {
        container: container.to_string(),
        account: account.to_string(),
        blob_suffix,
        prefix: prefix.trim_matches('/').to_string(),
    })
}

/// `%XX` sequences decoded (invalid ones kept), for `abfss://` paths and SAS tokens.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A SAS token (`sv=…&sig=…`, with or without a leading `?`) as query pairs.
fn sas_pairs(token: &str) -> Vec<(String, String)> {
    token
        .trim()
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// How requests are authorised.
#[derive(Clone, PartialEq, Eq)]
pub enum AzureCredentials {
    /// The account key (shared-key signing).
    AccessKey(String),
    /// A SAS token.
    Sas(String),
    /// A service principal or workload identity from `AZURE_CLIENT_ID` and friends, read by
    /// `object_store` from the environment.
    Environment,
    /// Nothing configured.
    None,
}

impl std::fmt::Debug for AzureCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.write_str(match self {
            AzureCredentials::AccessKey(_) => "AccessKey(***)",
            AzureCredentials::Sas(_) => "Sas(***)",
            AzureCredentials::Environment => "Environment",
            AzureCredentials::None => "None",
        })
    }
}

/// Everything that decides how an Azure URI is reached, read once by
/// [`AzureConfig::from_env`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    /// The Blob service URL (`None`: `https://<account>.<blob suffix>` of the URI).
    pub blob_endpoint: Option<String>,
    /// The account the connection string names (it wins over the URI's, as in MLflow).
    pub account: Option<String>,
    /// The credentials.
    pub credentials: AzureCredentials,
    /// Which variable the settings came from, for error messages.
    pub source: &'static str,
}

impl Default for AzureConfig {
    fn default() -> AzureConfig {
        AzureConfig {
            blob_endpoint: None,
            account: None,
            credentials: AzureCredentials::None,
            source: AZURE_STORAGE_CONNECTION_STRING,
        }
    }
}

impl AzureConfig {
    /// Reads the settings the way MLflow's Azure artifact repositories do (see the
    /// [module docs](self)).
    pub fn from_env() -> Result<AzureConfig> {
        if let Some(conn) = env_var(AZURE_STORAGE_CONNECTION_STRING) {
            return AzureConfig::from_connection_string(&conn);
        }
        if let Some(key) = env_var(AZURE_STORAGE_ACCESS_KEY) {
            return Ok(AzureConfig {
                credentials: AzureCredentials::AccessKey(key),
                source: AZURE_STORAGE_ACCESS_KEY,
                ..AzureConfig::default()
            });
        }
        if let Some(sas) = env_var(AZURE_STORAGE_SAS_TOKEN) {
            return Ok(AzureConfig {
                credentials: AzureCredentials::Sas(sas),
                source: AZURE_STORAGE_SAS_TOKEN,
                ..AzureConfig::default()
            });
        }
        let identity = env_var("AZURE_CLIENT_ID").is_some()
            && env_var("AZURE_TENANT_ID").is_some()
            && (env_var("AZURE_CLIENT_SECRET").is_some()
                || env_var("AZURE_FEDERATED_TOKEN_FILE").is_some());
        Ok(AzureConfig {
            credentials: if identity {
                AzureCredentials::Environment
            } else {
                AzureCredentials::None
            },
            source: "AZURE_CLIENT_ID",
            ..AzureConfig::default()
        })
    }

    /// The settings of a connection string (`Key=Value;…`, keys case-insensitive).
    pub fn from_connection_string(conn: &str) -> Result<AzureConfig> {
        let mut fields = std::collections::HashMap::new();
        for (i, part) in conn.split(';').map(str::trim).enumerate() {
            if part.is_empty() {
                continue;
            }
            // The part itself is not shown: it may be a secret.
            let (k, v) = part.split_once('=').ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "{AZURE_STORAGE_CONNECTION_STRING}: part {} has no '=' (expected \
                     Key=Value;Key=Value…)",
                    i + 1
                ))
            })?;
            fields.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
        let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
        if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(AzureConfig {
                blob_endpoint: Some(format!("http://127.0.0.1:10000/{DEV_ACCOUNT}")),
                account: Some(DEV_ACCOUNT.into()),
                credentials: AzureCredentials::AccessKey(DEV_ACCOUNT_KEY.into()),
                source: AZURE_STORAGE_CONNECTION_STRING,
            });
        }
        let account = get("accountname");
        let blob_endpoint = get("blobendpoint")
            .map(|e| e.trim_end_matches('/').to_string())
            .or_else(|| {
                let account = account.as_ref()?;
                let protocol = get("defaultendpointsprotocol").unwrap_or_else(|| "https".into());
                let suffix = get("endpointsuffix").unwrap_or_else(|| "core.windows.net".into());
                Some(format!("{protocol}://{account}.blob.{suffix}"))
            });
        let credentials = if let Some(key) = get("accountkey") {
            AzureCredentials::AccessKey(key)
        } else if let Some(sas) = get("sharedaccesssignature") {
            AzureCredentials::Sas(sas)
        } else {
            return Err(Error::InvalidParameter(format!(
                "{AZURE_STORAGE_CONNECTION_STRING} has neither AccountKey nor \
                 SharedAccessSignature"
            )));
        };
        if matches!(credentials, AzureCredentials::AccessKey(_)) && account.is_none() {
            return Err(Error::InvalidParameter(format!(
                "{AZURE_STORAGE_CONNECTION_STRING} has an AccountKey but no AccountName"
            )));
        }
        Ok(AzureConfig {
            blob_endpoint,
            account,
            credentials,
            source: AZURE_STORAGE_CONNECTION_STRING,
        })
    }

    fn build(&self, uri: &str, loc: &AzureLocation) -> Result<Arc<dyn ObjectStore>> {
        install_crypto_provider();
        let account = self.account.clone().unwrap_or_else(|| loc.account.clone());
        let endpoint = self.endpoint(loc);
        let mut builder = match &self.credentials {
            AzureCredentials::Environment => MicrosoftAzureBuilder::from_env(),
            _ => MicrosoftAzureBuilder::new(),
        };
        builder = builder
            .with_account(account)
            .with_container_name(&loc.container)
            .with_endpoint(endpoint.clone())
            .with_use_emulator(false)
            .with_client_options(client_options(false))
            // After the client options, which would reset it.
            .with_allow_http(endpoint.starts_with("http://"))
            .with_retry(retry_config());
        match &self.credentials {
            AzureCredentials::AccessKey(key) => builder = builder.with_access_key(key),
            AzureCredentials::Sas(sas) => builder = builder.with_sas_authorization(sas_pairs(sas)),
            AzureCredentials::Environment | AzureCredentials::None => {}
        }
        let store = builder.build().map_err(|e| {
            Error::InvalidParameter(format!(
                "cannot configure Azure Blob access for {uri}: {e} (check {})",
                self.source
            ))
        })?;
        Ok(Arc::new(store))
    }

    /// The Blob service URL requests go to.
    fn endpoint(&self, loc: &AzureLocation) -> String {
        self.blob_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://{}.{}", loc.account, loc.blob_suffix))
    }
}

/// The repository of a `wasbs://` or `abfss://` artifact URI, configured from MLflow's
/// variables (see the [module docs](self)).
pub fn open_azure_repository(uri: &str) -> Result<ObjectStoreArtifactRepository> {
    open_azure_repository_with(uri, &AzureConfig::from_env()?)
}

/// The repository of a `wasbs://` or `abfss://` artifact URI with explicit settings. Fails at
/// once, without a request, when no credentials are set.
pub fn open_azure_repository_with(
    uri: &str,
    config: &AzureConfig,
) -> Result<ObjectStoreArtifactRepository> {
    let loc = parse_azure_uri(uri)?;
    if config.credentials == AzureCredentials::None {
        return Err(Error::InvalidParameter(format!(
            "no Azure credentials found for {uri}: {CREDENTIALS_HINT}; or AZURE_CLIENT_ID, \
             AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal"
        )));
    }
    let context = StoreContext {
        kind: "Azure Blob",
        endpoint: config.endpoint(&loc),
        endpoint_var: if config.source == AZURE_STORAGE_CONNECTION_STRING {
            "AZURE_STORAGE_CONNECTION_STRING (its BlobEndpoint)"
        } else {
            "the account in the URI"
        },
        credentials_hint: CREDENTIALS_HINT,
    };
    let key = format!(
        "az\u{0}{}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{}",
        loc.container,
        config.endpoint(&loc),
        config.account,
        match &config.credentials {
            AzureCredentials::AccessKey(k) | AzureCredentials::Sas(k) => k.as_str(),
            AzureCredentials::Environment => "env",
            AzureCredentials::None => "",
        },
        loc.account,
    );
    let store = cached_store(key, || config.build(uri, &loc))?;
    Ok(ObjectStoreArtifactRepository::new(
        uri.trim(),
        store,
        &loc.prefix,
        context,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::ArtifactRepository as _;

    #[test]
    fn parses_wasbs_and_abfss_uris() {
        assert_eq!(
            parse_azure_uri("wasbs://ctr@acct.blob.core.windows.net/a/1/run/artifacts/").unwrap(),
            AzureLocation {
                container: "ctr".into(),
                account: "acct".into(),
                blob_suffix: "blob.core.windows.net".into(),
                prefix: "a/1/run/artifacts".into(),
            }
        );
        let abfss = parse_azure_uri("abfss://fs@acct.dfs.core.chinacloudapi.cn/x%20y/z").unwrap();
        assert_eq!(abfss.container, "fs");
        assert_eq!(abfss.blob_suffix, "blob.core.chinacloudapi.cn");
        assert_eq!(abfss.prefix, "x y/z");
        assert_eq!(
            parse_azure_uri("wasbs://c@a.blob.core.windows.net")
                .unwrap()
                .prefix,
            ""
        );
        for bad in [
            "wasbs://acct.blob.core.windows.net/x",
            "wasbs://c@acct.example.com/x",
            "wasbs://@acct.blob.core.windows.net/x",
            "s3://b/x",
        ] {
            assert!(parse_azure_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_connection_strings_like_the_azure_sdk() {
        let c = AzureConfig::from_connection_string(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;\
             EndpointSuffix=core.usgovcloudapi.net",
        )
        .unwrap();
        assert_eq!(
            c.blob_endpoint.as_deref(),
            Some("https://acct.blob.core.usgovcloudapi.net")
        );
        assert_eq!(c.credentials, AzureCredentials::AccessKey("a2V5".into()));
        assert!(
            !format!("{c:?}").contains("a2V5"),
            "secrets are not printed"
        );
        let azurite = AzureConfig::from_connection_string("UseDevelopmentStorage=true").unwrap();
        assert_eq!(
            azurite.blob_endpoint.as_deref(),
            Some("http://127.0.0.1:10000/devstoreaccount1")
        );
        let sas = AzureConfig::from_connection_string(
            "BlobEndpoint=https://x.blob.core.windows.net/;SharedAccessSignature=sv=1&sig=a%2Bb",
        )
        .unwrap();
        assert_eq!(
            sas.blob_endpoint.as_deref(),
            Some("https://x.blob.core.windows.net")
        );
        let AzureCredentials::Sas(token) = &sas.credentials else {
            panic!("{sas:?}")
        };
        assert_eq!(
            sas_pairs(token),
            [("sv".into(), "1".into()), ("sig".into(), "a+b".into())]
        );
        let err = AzureConfig::from_connection_string("AccountName=acct")
            .unwrap_err()
            .to_string();
        assert!(err.contains(AZURE_STORAGE_CONNECTION_STRING), "{err}");
        let err = AzureConfig::from_connection_string("AccountName=acct;secretvalue")
            .unwrap_err()
            .to_string();
        assert!(err.contains(AZURE_STORAGE_CONNECTION_STRING), "{err}");
    }

    #[test]
    fn missing_credentials_fail_at_once_naming_the_variables() {
        let err = open_azure_repository_with(
            "wasbs://c@acct.blob.core.windows.net/x",
            &AzureConfig::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(AZURE_STORAGE_CONNECTION_STRING), "{err}");
        assert!(err.contains(AZURE_STORAGE_ACCESS_KEY), "{err}");
    }

    #[test]
    fn unreachable_endpoint_is_reported_naming_the_variable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let config = AzureConfig::from_connection_string(&format!(
            "AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};\
             BlobEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT}"
        ))
        .unwrap();
        let repo =
            open_azure_repository_with("wasbs://c@acct.blob.core.windows.net/x", &config).unwrap();
        let err = repo.list("").unwrap_err().to_string();
        assert!(err.contains(AZURE_STORAGE_CONNECTION_STRING), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    }
}
