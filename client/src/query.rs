//! The query string of `GET /v1/events` and `GET /v1/stream`.

use crate::types::Format;

/// A filter and a position; unset fields are left out of the query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Kinds or patterns (`artifact.*`, `*`).
    pub kinds: Vec<String>,
    pub communities: Vec<String>,
    /// Event time at or after, ms since epoch.
    pub since: Option<u64>,
    /// Event time before, ms since epoch.
    pub until: Option<u64>,
    /// Only events linking to this id.
    pub link: Option<String>,
    /// Start after this arrival.
    pub after: Option<u64>,
    pub limit: Option<usize>,
    /// A durable consumer: a stream starts from its stored cursor.
    pub consumer: Option<String>,
    pub format: Option<Format>,
}

impl EventQuery {
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        q.extend(self.kinds.iter().map(|k| ("kind", k.clone())));
        q.extend(self.communities.iter().map(|c| ("community", c.clone())));
        q.extend(self.since.map(|t| ("since", t.to_string())));
        q.extend(self.until.map(|t| ("until", t.to_string())));
        q.extend(self.link.clone().map(|l| ("link", l)));
        q.extend(self.after.map(|a| ("after", a.to_string())));
        q.extend(self.limit.map(|n| ("limit", n.to_string())));
        q.extend(self.consumer.clone().map(|c| ("consumer", c)));
        q.extend(self.format.map(|f| ("format", f.to_string())));
        q
    }

    /// `base?k=v&…`, escaped.
    pub fn path(&self, base: &str) -> String {
        with_query(base, &self.pairs())
    }
}

/// Builds `path?k=v&…` with proper escaping.
pub fn with_query(path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    format!("{path}?{q}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_orders() {
        let q = EventQuery {
            kinds: vec!["artifact.*".into(), "a b".into()],
            after: Some(7),
            consumer: Some("job-1".into()),
            format: Some(Format::Eiffel),
            ..Default::default()
        };
        assert_eq!(
            q.path("/v1/stream"),
            "/v1/stream?kind=artifact.*&kind=a+b&after=7&consumer=job-1&format=eiffel"
        );
        assert_eq!(EventQuery::default().path("/v1/events"), "/v1/events");
    }
}
