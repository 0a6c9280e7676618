//! Vocabulary shared by every ksan layer.
//!
//! The engine decides *which* S3 error happened (NoSuchKey, PreconditionFailed, ...); the
//! protocol layer decides how it looks on the wire. Keeping the code list here, below both,
//! means neither layer has to translate the other's error enum.

#![warn(missing_docs)]

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::Stream;

mod action;
mod checksum;
mod object;
pub use action::S3Action;
pub use checksum::ChecksumAlgorithm;
pub use object::{CannedAcl, ChecksumType, Directive, ObjectOwnership, Permission, StorageClass, VersionId};

macro_rules! error_codes {
    (@wire $name:ident) => { stringify!($name) };
    (@wire $name:ident $wire:literal) => { $wire };
    ($($name:ident $(as $wire:literal)? => $status:expr, $msg:expr;)*) => {
        /// S3 error codes with the HTTP status S3 answers them with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $(
            #[doc = stringify!($name)]
            $name,
        )* }

        impl ErrorCode {
            /// The code as it appears in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => error_codes!(@wire $name $($wire)?),)* }
            }
            /// The HTTP status S3 answers the code with.
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$name => $status,)* }
            }
            /// The message S3 gives when nothing more specific is known.
            pub fn default_message(self) -> &'static str {
                match self { $(ErrorCode::$name => $msg,)* }
            }
        }
    };
}

error_codes! {
    AccessDenied => 403, "Access Denied";
    AccessForbidden => 403, "CORSResponse: This CORS request is not allowed.";
    AccountProblem => 403, "There is a problem with your AWS account that prevents the operation from completing successfully.";
    AuthorizationHeaderMalformed => 400, "The authorization header is malformed.";
    AuthorizationQueryParametersError => 400, "Error parsing the X-Amz-Credential parameter.";
    BadRequest => 400, "Bad Request";
    BadDigest => 400, "The Content-MD5 you specified did not match what we received.";
    BucketAlreadyExists => 409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.";
    BucketAlreadyOwnedByYou => 409, "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty => 409, "The bucket you tried to delete is not empty";
    EntityTooLarge => 400, "Your proposed upload exceeds the maximum allowed object size.";
    EntityTooSmall => 400, "Your proposed upload is smaller than the minimum allowed object size.";
    ExpiredToken => 400, "The provided token has expired.";
    IllegalLocationConstraintException => 400, "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.";
    IllegalVersioningConfigurationException => 400, "The versioning configuration specified in the request is invalid.";
    IncompleteBody => 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InternalError => 500, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId => 403, "The AWS Access Key Id you provided does not exist in our records.";
    InvalidArgument => 400, "Invalid Argument";
    InvalidBucketName => 400, "The specified bucket is not valid.";
    InvalidBucketState => 409, "The request is not valid with the current state of the bucket.";
    InvalidDigest => 400, "The Content-MD5 you specified is not valid.";
    InvalidLocationConstraint => 400, "The specified location constraint is not valid.";
    InvalidPartNumber => 416, "The requested partnumber is not satisfiable";
    InvalidObjectState => 403, "The operation is not valid for the current state of the object.";
    InvalidPart => 400, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.";
    InvalidPartOrder => 400, "The list of parts was not in ascending order. Parts must be ordered by part number.";
    InvalidRange => 416, "The requested range is not satisfiable";
    KmsAlreadyExists as "KMS.AlreadyExistsException" => 400, "A key with this id already exists.";
    KmsDisabled as "KMS.DisabledException" => 400, "The KMS key is disabled.";
    KmsNotFound as "KMS.NotFoundException" => 400, "The KMS key does not exist.";
    InvalidRedirectLocation => 400, "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.";
    InvalidPolicyDocument => 400, "The content of the form does not meet the conditions specified in the policy document.";
    InvalidRequest => 400, "Invalid Request";
    InvalidRetentionPeriod => 400, "The retention period specified is not valid.";
    InvalidStorageClass => 400, "The storage class you specified is not valid";
    InvalidTag => 400, "The tag provided was not a valid tag.";
    InvalidURI => 400, "Couldn't parse the specified URI.";
    KeyTooLongError => 400, "Your key is too long";
    MalformedACLError => 400, "The XML you provided was not well-formed or did not validate against our published schema";
    MalformedPOSTRequest => 400, "The body of your POST request is not well-formed multipart/form-data.";
    MalformedXML => 400, "The XML you provided was not well-formed or did not validate against our published schema";
    MaxMessageLengthExceeded => 400, "Your request was too big.";
    MetadataTooLarge => 400, "Your metadata headers exceed the maximum allowed metadata size.";
    MethodNotAllowed => 405, "The specified method is not allowed against this resource.";
    MissingContentLength => 411, "You must provide the Content-Length HTTP header.";
    MissingRequestBodyError => 400, "Request Body is empty";
    MissingSecurityHeader => 400, "Your request is missing a required header.";
    NoSuchBucket => 404, "The specified bucket does not exist";
    NoSuchKey => 404, "The specified key does not exist.";
    NoSuchUpload => 404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.";
    NoSuchVersion => 404, "The specified version does not exist.";
    NoSuchBucketPolicy => 404, "The bucket policy does not exist";
    NoSuchCORSConfiguration => 404, "The CORS configuration does not exist";
    NoSuchLifecycleConfiguration => 404, "The lifecycle configuration does not exist";
    NoSuchTagSet => 404, "The TagSet does not exist";
    NoSuchWebsiteConfiguration => 404, "The specified bucket does not have a website configuration";
    NotImplemented => 501, "A header you provided implies functionality that is not implemented.";
    NotModified => 304, "Not Modified";
    PreconditionFailed => 412, "At least one of the pre-conditions you specified did not hold";
    RequestTimeTooSkewed => 403, "The difference between the request time and the server's time is too large.";
    RequestTimeout => 400, "Your socket connection to the server was not read from or written to within the timeout period.";
    ServiceUnavailable => 503, "Please reduce your request rate.";
    SignatureDoesNotMatch => 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.";
    ObjectLockConfigurationNotFoundError => 404, "Object Lock configuration does not exist for this bucket";
    NoSuchObjectLockConfiguration => 404, "The specified object does not have a ObjectLock configuration";
    ServerSideEncryptionConfigurationNotFoundError => 404, "The server side encryption configuration was not found";
    ReplicationConfigurationNotFoundError => 404, "The replication configuration was not found";
    SlowDown => 503, "Please reduce your request rate.";
    TooManyBuckets => 400, "You have attempted to create more buckets than allowed";
    UnexpectedContent => 400, "This request does not support content";
    UnresolvableGrantByEmailAddress => 400, "The email address you provided does not match any account on record.";
    UserKeyMustBeSpecified => 400, "The bucket POST must contain the specified field name. If it is specified, check the order of the fields.";
    XAmzContentSHA256Mismatch => 400, "The provided 'x-amz-content-sha256' header does not match what was computed.";
    InvalidChunkSizeError => 400, "Only the last chunk is allowed to have a size less than 8192 bytes";
    InvalidEncryptionAlgorithmError => 400, "The encryption request you specified is not valid. The valid value is AES256.";
    RequestHeaderSectionTooLarge => 400, "Your request header section exceeds the maximum allowed size.";
    AccessControlListNotSupported => 400, "The bucket does not allow ACLs";
    InvalidBucketAclWithObjectOwnership => 400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting";
    MalformedPolicy => 400, "Policy has invalid resource";
    NoSuchPublicAccessBlockConfiguration => 404, "The public access block configuration was not found";
    OwnershipControlsNotFoundError => 404, "The bucket ownership controls were not found";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One S3 error: the code, a message, and the extra elements S3 puts in the XML body.
/// Small (the rare details are boxed) because it travels in every `Result` of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// The S3 error code.
    pub code: ErrorCode,
    /// The `<Message>`.
    pub message: Cow<'static, str>,
    details: Option<Box<Details>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Details {
    bucket: Option<String>,
    key: Option<String>,
    /// Further elements in S3's order (ArgumentName, ArgumentValue, Condition, ...).
    extra: Vec<(&'static str, String)>,
    /// Response headers S3 adds to this error (e.g. `x-amz-delete-marker`, `Allow`).
    headers: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        S3Error {
            code,
            message: Cow::Borrowed(code.default_message()),
            details: None,
        }
    }
    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Box::default)
    }
    /// Replace the message.
    pub fn msg(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }
    /// Name the bucket (`<BucketName>`).
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.details_mut().bucket = Some(bucket.into());
        self
    }
    /// Name the key (`<Key>`).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.details_mut().key = Some(key.into());
        self
    }
    /// Add an element to the XML body, e.g. `ArgumentName`.
    pub fn with(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.details_mut().extra.push((element, value.into()));
        self
    }
    /// Add a response header to the error response.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.details_mut().headers.push((name, value.into()));
        self
    }
    /// The bucket named, if any.
    pub fn bucket_name(&self) -> Option<&str> {
        self.details.as_ref()?.bucket.as_deref()
    }
    /// The key named, if any.
    pub fn key_name(&self) -> Option<&str> {
        self.details.as_ref()?.key.as_deref()
    }
    /// The extra XML elements, in order.
    pub fn extra(&self) -> &[(&'static str, String)] {
        self.details.as_ref().map_or(&[], |d| d.extra.as_slice())
    }
    /// The response headers the error adds.
    pub fn headers(&self) -> &[(&'static str, String)] {
        self.details.as_ref().map_or(&[], |d| d.headers.as_slice())
    }
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.code.status()
    }
    /// An InternalError whose cause is logged, never shown to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        S3Error::new(ErrorCode::InternalError)
    }
    /// InvalidArgument with a message, ArgumentName and ArgumentValue.
    pub fn invalid_argument(
        message: impl Into<Cow<'static, str>>,
        name: &'static str,
        value: impl Into<String>,
    ) -> Self {
        S3Error::new(ErrorCode::InvalidArgument)
            .msg(message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }
}

impl From<ErrorCode> for S3Error {
    fn from(code: ErrorCode) -> Self {
        S3Error::new(code)
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

/// A result whose error is an S3 error.
pub type S3Result<T> = Result<T, S3Error>;

/// A request or object body as a stream of chunks. Errors are already S3 errors (a bad chunk
/// signature, a digest mismatch found by the decoder, a client that hung up).
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, S3Error>> + Send>>;

/// Trailing headers of an aws-chunked body, filled by the decoder when it reaches the end of the
/// stream, read by whoever consumed the stream afterwards.
#[derive(Debug, Clone, Default)]
pub struct TrailerSlot(Arc<OnceLock<Vec<(String, String)>>>);

impl TrailerSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }
    /// Store the trailers; a second call is ignored.
    pub fn set(&self, trailers: Vec<(String, String)>) {
        let _ = self.0.set(trailers);
    }
    /// The value of a trailer (names compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get()?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every trailer received, in order.
    pub fn all(&self) -> &[(String, String)] {
        self.0.get().map(|v| v.as_slice()).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_s3_statuses() {
        assert_eq!(ErrorCode::NoSuchKey.status(), 404);
        assert_eq!(ErrorCode::NoSuchKey.as_str(), "NoSuchKey");
        assert_eq!(ErrorCode::InvalidRange.status(), 416);
        assert_eq!(ErrorCode::NotImplemented.status(), 501);
        assert_eq!(ErrorCode::BucketAlreadyOwnedByYou.status(), 409);
    }

    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<S3Error>() <= 48);
        let e = S3Error::new(ErrorCode::NoSuchKey).key("k").with("A", "b");
        assert_eq!(e.key_name(), Some("k"));
        assert_eq!(e.extra(), &[("A", "b".to_owned())]);
        assert_eq!(e.bucket_name(), None);
    }

    #[test]
    fn trailer_slot_is_case_insensitive() {
        let slot = TrailerSlot::new();
        assert_eq!(slot.get("x"), None);
        slot.set(vec![("X-Amz-Checksum-Crc32".into(), "AAAAAA==".into())]);
        assert_eq!(slot.get("x-amz-checksum-crc32"), Some("AAAAAA=="));
    }
}
