//! A mail provider's HTTP send API, as the relay's second sender talks to it.

use crate::endpoint::Endpoint;
use serde_json::Value;

#[derive(Clone)]
pub struct MailApi {
    pub url: String,
    pub key: String,
    endpoint: Endpoint,
}

impl MailApi {
    /// Answers 503 to the first `failures` sends, then 202.
    pub async fn start(failures: usize) -> MailApi {
        let endpoint = Endpoint::start("/v1/send", failures, "202 Accepted").await;
        MailApi { url: endpoint.url.clone(), key: "test-mail-api-key".into(), endpoint }
    }

    /// What it accepted: (Authorization header, JSON body).
    pub fn sent(&self) -> Vec<(Option<String>, Value)> {
        self.endpoint.received().iter().map(|r| (r.header("authorization").map(str::to_owned), r.json())).collect()
    }
}
