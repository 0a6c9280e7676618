//! Text in header values beyond ASCII, as S3 handles user metadata: values are decoded from
//! RFC 2047 encoded-words before they are stored, and stored text that is not printable
//! ASCII goes back out as one encoded-word (`=?UTF-8?B?...?=`).
//!
//! Raw bytes of a value are read as UTF-8 when they are UTF-8 (what aws-sdk-s3, botocore and
//! curl send) and as Latin-1 otherwise (HTTP's historical charset). S3 itself reads every
//! raw byte as Latin-1, which turns UTF-8 input into mojibake (`é` comes back as the
//! encoded-word of `Ã©`); ksan keeps the characters the client meant.

use std::borrow::Cow;

use base64::Engine as _;

/// The text a header value carries: its bytes as UTF-8 (or Latin-1 when they are not UTF-8),
/// with RFC 2047 encoded-words decoded. Whitespace between two adjacent encoded-words is
/// dropped, as RFC 2047 says; a malformed or unknown-charset word stays as it was.
pub fn decode(raw: &[u8]) -> String {
    let text = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(raw.iter().map(|b| char::from(*b)).collect::<String>()),
    };
    if !text.contains("=?") {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    // Whitespace seen since the last encoded-word, held back until we know what follows.
    let mut after_word: Option<usize> = None;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match decode_word(candidate) {
            Some((decoded, used)) => {
                let only_space = before.chars().all(|c| c == ' ' || c == '\t');
                if !(after_word.is_some() && only_space) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[used..];
                after_word = Some(out.len());
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                after_word = None;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One encoded-word at the start of `s` (`=?charset?B|Q?text?=`): its text and its length.
fn decode_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, body) = body.split_once('?')?;
    let (encoding, body) = body.split_once('?')?;
    let end = body.find("?=")?;
    let encoded = &body[..end];
    if encoded.contains(|c: char| c.is_whitespace() || c == '?') || charset.is_empty() {
        return None;
    }
    let used = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let bytes = match encoding {
        "B" | "b" => {
            let engine = base64::engine::general_purpose::STANDARD;
            let no_pad = base64::engine::general_purpose::STANDARD_NO_PAD;
            engine.decode(encoded).or_else(|_| no_pad.decode(encoded)).ok()?
        }
        "Q" | "q" => q_decode(encoded)?,
        _ => return None,
    };
    // RFC 2231 lets a language follow the charset: `UTF-8*en`.
    let name = charset.split('*').next().unwrap_or(charset).to_ascii_lowercase();
    let text = match name.as_str() {
        "utf-8" | "utf8" | "us-ascii" => String::from_utf8(bytes).ok()?,
        "iso-8859-1" | "latin1" | "latin-1" => bytes.iter().map(|b| char::from(*b)).collect(),
        _ => return None,
    };
    Some((text, used))
}

fn q_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// A header value for stored text: the text itself when it is printable ASCII (and could not
/// be mistaken for an encoded-word), else one B encoded-word of its UTF-8 bytes.
pub fn encode(text: &str) -> Cow<'_, str> {
    let plain = text.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t');
    if plain && decode(text.as_bytes()) == text {
        return Cow::Borrowed(text);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    Cow::Owned(format!("=?UTF-8?B?{b64}?="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_bytes() {
        assert_eq!(decode(b"plain"), "plain");
        assert_eq!(decode("café".as_bytes()), "café");
        assert_eq!(decode(b"caf\xe9"), "café");
        assert_eq!(decode(b"\xff\xfe"), "ÿþ");
    }

    #[test]
    fn encoded_words() {
        assert_eq!(decode(b"=?UTF-8?B?Y2Fmw6k=?="), "café");
        assert_eq!(decode(b"=?utf-8?b?Y2Fmw6k?="), "café", "unpadded");
        assert_eq!(decode(b"=?UTF-8?Q?caf=C3=A9_au_lait?="), "café au lait");
        assert_eq!(decode(b"=?ISO-8859-1?Q?caf=E9?="), "café");
        assert_eq!(decode(b"=?UTF-8*en?Q?hi?="), "hi");
        // adjacent words join; text around them stays
        assert_eq!(decode(b"=?UTF-8?Q?a?= =?UTF-8?Q?b?="), "ab");
        assert_eq!(decode(b"x =?UTF-8?Q?a?= y"), "x a y");
        // not words: kept literally
        for s in [
            "=?",
            "a =? b",
            "=?UTF-8?X?abc?=",
            "=?UTF-8?Q?a b?=",
            "=?KOI8-R?Q?abc?=",
            "=?UTF-8?B?!!!?=",
            "=?UTF-8?Q?=ZZ?=",
            "=??Q?a?=",
            "=?UTF-8?Q?a",
        ] {
            assert_eq!(decode(s.as_bytes()), s, "{s}");
        }
        // a word whose UTF-8 is broken stays literal
        assert_eq!(decode(b"=?UTF-8?Q?=FF?="), "=?UTF-8?Q?=FF?=");
    }

    #[test]
    fn encode_round_trips() {
        for text in [
            "",
            "plain value, with = and ?",
            "café",
            "한국어 メタデータ",
            "line\nbreak",
            "=?UTF-8?B?Y2Fmw6k=?=",
            "tab\there",
            "\u{7f}del",
        ] {
            let wire = encode(text);
            assert!(
                wire.bytes().all(|b| (0x20..0x7f).contains(&b) || b == b'\t'),
                "{text:?} -> {wire}"
            );
            assert_eq!(decode(wire.as_bytes()), text, "{text:?} -> {wire}");
        }
        assert_eq!(encode("plain"), "plain");
        assert_eq!(encode("café"), "=?UTF-8?B?Y2Fmw6k=?=");
    }
}
