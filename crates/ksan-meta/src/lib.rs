//! Metadata storage for ksan: the transactional ordered key-value trait and its redb backend
