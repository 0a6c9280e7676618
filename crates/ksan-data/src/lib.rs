//! Blob storage for ksan: the DataStore trait, the filesystem backend, checksums
