//! How an S3 error looks on the wire.

use bytes::Bytes;
use ksan_types::S3Error;

use crate::xml::escape_into;

/// The XML body of an error response, elements in S3's order.
pub fn error_xml(err: &S3Error, resource: Option<&str>, request_id: &str, host_id: &str) -> Bytes {
    let mut s = String::with_capacity(256);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
    s.push_str(err.code.as_str());
    s.push_str("</Code><Message>");
    escape_into(&mut s, &err.message);
    s.push_str("</Message>");
    let mut push = |name: &str, value: &str| {
        s.push('<');
        s.push_str(name);
        s.push('>');
        escape_into(&mut s, value);
        s.push_str("</");
        s.push_str(name);
        s.push('>');
    };
    if let Some(b) = err.bucket_name() {
        push("BucketName", b);
    }
    if let Some(k) = err.key_name() {
        push("Key", k);
    }
    for (name, value) in err.extra() {
        push(name, value);
    }
    if let Some(r) = resource {
        push("Resource", r);
    }
    push("RequestId", request_id);
    push("HostId", host_id);
    s.push_str("</Error>");
    Bytes::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ksan_types::ErrorCode;

    #[test]
    fn shape() {
        let e = S3Error::new(ErrorCode::NoSuchKey).key("a&b");
        let x = error_xml(&e, Some("/b/a&b"), "RID", "HID");
        assert_eq!(
            std::str::from_utf8(&x).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><Resource>/b/a&amp;b</Resource><RequestId>RID</RequestId><HostId>HID</HostId></Error>"
        );
    }
}
