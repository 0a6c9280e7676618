//! The S3 wire protocol, with no knowledge of storage: which operation a request names
//! (`router`), who sent it (`auth`), how documents look (`xml`), how errors look (`error`),
//! the response body type (`body`), and text beyond ASCII in header values (`header_text`).

#![warn(missing_docs)]

pub mod auth;
pub mod body;
pub mod documents;
pub mod error;
pub mod header_text;
pub mod query;
pub mod range;
pub mod router;
pub mod xml;

pub use body::ResponseBody;
pub use router::{Endpoint, Route};
