//! XML out (a small writer that produces S3's exact shapes) and in (quick-xml based helpers to
//! read request documents strictly).

use ksan_types::{ErrorCode, S3Error};
use quick_xml::Reader;
use quick_xml::events::Event;

/// The namespace of S3's documents.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds an XML document into one buffer. Element names are trusted; text is escaped.
pub struct XmlWriter {
    buf: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document with the XML declaration.
    pub fn new() -> Self {
        let mut buf = String::with_capacity(512);
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        XmlWriter { buf }
    }

    /// Open the root element with the S3 namespace.
    pub fn root(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str(" xmlns=\"");
        self.buf.push_str(S3_NS);
        self.buf.push_str("\">");
        self
    }

    /// Open an element.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// Open with raw attributes (e.g. `xmlns:xsi="..." xsi:type="CanonicalUser"`).
    pub fn open_with(&mut self, name: &str, attrs: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push(' ');
        self.buf.push_str(attrs);
        self.buf.push('>');
        self
    }

    /// Close an element.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// An element with escaped text.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        escape_into(&mut self.buf, text);
        self.close(name)
    }

    /// Escaped text.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.buf, text);
        self
    }

    /// An element, if there is text for it.
    pub fn elem_opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// An element whose text is a value's Display.
    pub fn elem_display(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        self.open(name);
        let _ = write!(self.buf, "{value}");
        self.close(name)
    }

    /// The document.
    pub fn finish(self) -> String {
        self.buf
    }
}

/// Escape text for element content or attribute values.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not representable in XML 1.0 text; S3 writes them as
            // character references.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {
                out.push_str(&format!("&#x{:X};", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// A parsed XML element tree: small request documents (DeleteObjects, configurations) only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name.
    pub name: String,
    /// The text content, unescaped, as written (empty for an element whose only text is the
    /// whitespace between its children).
    pub text: String,
    /// Attributes as written (names with their prefixes).
    pub attrs: Vec<(String, String)>,
    /// Child elements, in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child of this name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    /// The children of this name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// The text of the first child of this name, without surrounding whitespace: for
    /// values that are names, numbers or ids (`Status`, `PartNumber`, `Permission`).
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
    /// The text of the first child of this name exactly as written: for free text (object
    /// keys, tag keys and values).
    pub fn child_raw(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
    /// The value of the attribute whose local name (after any namespace prefix) is `local`.
    pub fn attr_local(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.rsplit(':').next() == Some(local))
            .map(|(_, v)| v.as_str())
    }
}

fn malformed() -> S3Error {
    S3Error::new(ErrorCode::MalformedXML)
}

/// Deepest element nesting accepted. S3's request documents are a few levels deep (the deepest,
/// lifecycle and replication rules, about six); a deeper document is refused before it can
/// cost stack (dropping a tree recurses once per level) or memory.
pub const MAX_DEPTH: usize = 20;

/// Parse a whole document into an element tree. Namespace prefixes are dropped from names.
/// Any syntax error, and nesting deeper than [`MAX_DEPTH`], is MalformedXML.
pub fn parse(doc: &[u8]) -> Result<Element, S3Error> {
    // Text is kept as written (a key or tag value may begin or end with spaces, and
    // `Tom &amp; Jerry` must keep the spaces around the reference); whitespace between
    // child elements is formatting and is dropped when the element closes.
    let mut reader = Reader::from_reader(doc);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|_| malformed())? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed());
                }
                let el = start_element(&e)?;
                stack.push(el);
            }
            Event::Empty(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(malformed());
                }
                let el = start_element(&e)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let mut el = stack.pop().ok_or_else(malformed)?;
                if !el.children.is_empty() && el.text.trim().is_empty() {
                    el.text.clear();
                }
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let raw = std::str::from_utf8(t.as_ref()).map_err(|_| malformed())?;
                    let text = quick_xml::escape::unescape(raw).map_err(|_| malformed())?;
                    top.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = std::str::from_utf8(r.as_ref()).map_err(|_| malformed())?;
                    top.text.push(resolve_reference(name).ok_or_else(malformed)?);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(std::str::from_utf8(t.as_ref()).map_err(|_| malformed())?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(malformed());
    }
    root.ok_or_else(malformed)
}

/// `amp`, `lt`, ... or a character reference (`#65`, `#x41`).
fn resolve_reference(name: &str) -> Option<char> {
    let code = match name.strip_prefix('#') {
        Some(hex) if hex.starts_with(['x', 'X']) => u32::from_str_radix(&hex[1..], 16).ok()?,
        Some(dec) => dec.parse().ok()?,
        None => {
            return match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => None,
            };
        }
    };
    char::from_u32(code)
}

fn local_name(qname: &[u8]) -> Result<String, S3Error> {
    let name = std::str::from_utf8(qname).map_err(|_| malformed())?;
    Ok(name.rsplit(':').next().unwrap_or(name).to_owned())
}

fn start_element(e: &quick_xml::events::BytesStart<'_>) -> Result<Element, S3Error> {
    let mut el = Element {
        name: local_name(e.name().as_ref())?,
        ..Element::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|_| malformed())?;
        let key = std::str::from_utf8(a.key.as_ref()).map_err(|_| malformed())?.to_owned();
        let value = a.unescape_value().map_err(|_| malformed())?.into_owned();
        el.attrs.push((key, value));
    }
    Ok(el)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), S3Error> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => {
            if root.is_some() {
                return Err(malformed());
            }
            *root = Some(el);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped() {
        let mut w = XmlWriter::new();
        w.root("R").elem("K", "a<b&\"c\"").close("R");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><K>a&lt;b&amp;&quot;c&quot;</K></R>"
        );
    }

    #[test]
    fn parses_tree() {
        let doc = br#"<?xml version="1.0"?><Delete xmlns="x"><Quiet>true</Quiet><Object><Key>a&amp;b&#x41;&#66;</Key></Object><Object><Key>c</Key><VersionId>v</VersionId></Object></Delete>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(root.child_text("Quiet"), Some("true"));
        let keys: Vec<_> = root
            .children_named("Object")
            .map(|o| o.child_text("Key").unwrap().to_owned())
            .collect();
        assert_eq!(keys, vec!["a&bAB", "c"]);
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| {
            let mut doc = String::new();
            for _ in 0..depth {
                doc.push_str("<a>");
            }
            for _ in 0..depth {
                doc.push_str("</a>");
            }
            doc
        };
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            parse(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err().code,
            ErrorCode::MalformedXML
        );
        // Deep enough to overflow a stack when the tree is dropped, were it ever built.
        let deep = nested(100_000);
        assert_eq!(parse(deep.as_bytes()).unwrap_err().code, ErrorCode::MalformedXML);
        let deep_empty = format!("{}<b/>", "<a>".repeat(100_000));
        assert_eq!(parse(deep_empty.as_bytes()).unwrap_err().code, ErrorCode::MalformedXML);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse(b"<a><b></a>").unwrap_err().code, ErrorCode::MalformedXML);
        assert_eq!(parse(b"").unwrap_err().code, ErrorCode::MalformedXML);
        assert_eq!(parse(b"<a>").unwrap_err().code, ErrorCode::MalformedXML);
    }
}
