//! `CORSConfiguration`: a bucket's CORS rules (Put/GetBucketCors).

use ksan_types::S3Result;

use super::XmlDocument;
use crate::xml::{Element, XmlWriter};

/// One `CORSRule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsRuleDoc {
    /// `ID`.
    pub id: Option<String>,
    /// `AllowedMethod` elements.
    pub allowed_methods: Vec<String>,
    /// `AllowedOrigin` elements.
    pub allowed_origins: Vec<String>,
    /// `AllowedHeader` elements.
    pub allowed_headers: Vec<String>,
    /// `ExposeHeader` elements.
    pub expose_headers: Vec<String>,
    /// `MaxAgeSeconds`.
    pub max_age_seconds: Option<i64>,
}

/// The document: `CORSRule` elements, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsConfiguration {
    /// The rules.
    pub rules: Vec<CorsRuleDoc>,
}

fn texts(e: &Element, name: &str) -> Vec<String> {
    e.children_named(name).map(|c| c.text.trim().to_owned()).collect()
}

impl XmlDocument for CorsConfiguration {
    const ROOT: &'static str = "CORSConfiguration";

    fn read(root: &Element) -> S3Result<Self> {
        let rules = root
            .children_named("CORSRule")
            .map(|r| {
                let max_age_seconds = r
                    .child_text("MaxAgeSeconds")
                    .map(|t| t.parse::<i64>().map_err(|_| Self::malformed()))
                    .transpose()?;
                Ok(CorsRuleDoc {
                    id: r.child_text("ID").map(str::to_owned),
                    allowed_methods: texts(r, "AllowedMethod"),
                    allowed_origins: texts(r, "AllowedOrigin"),
                    allowed_headers: texts(r, "AllowedHeader"),
                    expose_headers: texts(r, "ExposeHeader"),
                    max_age_seconds,
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        Ok(CorsConfiguration { rules })
    }

    fn write_body(&self, w: &mut XmlWriter) {
        for r in &self.rules {
            w.open("CORSRule");
            w.elem_opt("ID", r.id.as_deref());
            for (name, values) in [
                ("AllowedHeader", &r.allowed_headers),
                ("AllowedMethod", &r.allowed_methods),
                ("AllowedOrigin", &r.allowed_origins),
                ("ExposeHeader", &r.expose_headers),
            ] {
                for v in values {
                    w.elem(name, v);
                }
            }
            if let Some(age) = r.max_age_seconds {
                w.elem_display("MaxAgeSeconds", age);
            }
            w.close("CORSRule");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn round_trips_and_rejects() {
        super::super::round_trip(&CorsConfiguration {
            rules: vec![
                CorsRuleDoc {
                    id: Some("r1".into()),
                    allowed_methods: vec!["GET".into(), "PUT".into()],
                    allowed_origins: vec!["https://*.example.com".into()],
                    allowed_headers: vec!["*".into()],
                    expose_headers: vec!["ETag".into(), "x-amz-request-id".into()],
                    max_age_seconds: Some(3000),
                },
                CorsRuleDoc {
                    allowed_methods: vec!["HEAD".into()],
                    allowed_origins: vec!["*".into()],
                    ..Default::default()
                },
            ],
        });
        let doc = CorsConfiguration::from_xml(
            b"<CORSConfiguration><CORSRule><AllowedMethod> GET </AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
        )
        .unwrap();
        assert_eq!(doc.rules[0].allowed_methods, vec!["GET".to_owned()]);
        for bad in [
            "<CORSConfiguration><CORSRule><MaxAgeSeconds>x</MaxAgeSeconds></CORSRule></CORSConfiguration>",
            "<CORS/>",
            "<CORSConfiguration><CORSRule>",
        ] {
            assert_eq!(
                CorsConfiguration::from_xml(bad.as_bytes()).unwrap_err().code,
                ErrorCode::MalformedXML,
                "{bad}"
            );
        }
    }
}
