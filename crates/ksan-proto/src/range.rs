//! The `Range` header of GET and HEAD.

use ksan_types::{ErrorCode, S3Error, S3Result};

/// A parsed `Range: bytes=...` header resolved against an object size: (start, length).
/// Unparsable ranges are ignored (the whole object is sent), as S3 does.
pub fn parse_range(header: Option<&str>, size: u64) -> S3Result<Option<(u64, u64)>> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || {
        S3Error::new(ErrorCode::InvalidRange)
            .with("RangeRequested", h.to_owned())
            .with("ActualObjectSize", size.to_string())
    };
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else { return Ok(None) };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        let n = n.min(size);
        return Ok(Some((size - n, n)));
    }
    let Ok(start) = a.parse::<u64>() else { return Ok(None) };
    let end = if b.is_empty() {
        size.saturating_sub(1)
    } else {
        let Ok(end) = b.parse::<u64>() else { return Ok(None) };
        if end < start {
            return Ok(None);
        }
        end.min(size.saturating_sub(1))
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end - start + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-4"), 10).unwrap(), Some((0, 5)));
        assert_eq!(parse_range(Some("bytes=5-"), 10).unwrap(), Some((5, 5)));
        assert_eq!(parse_range(Some("bytes=-3"), 10).unwrap(), Some((7, 3)));
        assert_eq!(parse_range(Some("bytes=-30"), 10).unwrap(), Some((0, 10)));
        assert_eq!(parse_range(Some("bytes=8-100"), 10).unwrap(), Some((8, 2)));
        assert_eq!(
            parse_range(Some("bytes=10-"), 10).unwrap_err().code,
            ErrorCode::InvalidRange
        );
        assert_eq!(
            parse_range(Some("bytes=0-0"), 0).unwrap_err().code,
            ErrorCode::InvalidRange
        );
        assert_eq!(parse_range(Some("bytes=5-2"), 10).unwrap(), None);
        assert_eq!(parse_range(Some("items=1-2"), 10).unwrap(), None);
        assert_eq!(parse_range(None, 10).unwrap(), None);
    }
}
