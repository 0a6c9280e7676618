//! Users and their access keys.

use std::sync::Arc;

use ksan_types::{ErrorCode, S3Error, S3Result};
use rand::Rng;

use crate::records::{AccessKeyRecord, UserRecord, decode, encode};
use crate::{Engine, keys, meta_err, now_ms};

/// Name of the root user.
pub const ROOT_USER: &str = "root";

/// Characters of generated access keys (as AWS: upper case and digits).
const AK_CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SK_CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_string(charset: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| charset[rng.random_range(0..charset.len())] as char)
        .collect()
}

pub fn generate_access_key() -> String {
    format!("KS{}", random_string(AK_CHARSET, 18))
}

pub fn generate_secret_key() -> String {
    random_string(SK_CHARSET, 40)
}

pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

impl Engine {
    /// The secret key of an access key, if it exists.
    pub fn secret_for(&self, access_key: &str) -> S3Result<Option<String>> {
        let snap = self.snapshot()?;
        match snap.get(&keys::access_key(access_key)).map_err(meta_err)? {
            Some(bytes) => Ok(Some(decode::<AccessKeyRecord>(&bytes)?.secret_key)),
            None => Ok(None),
        }
    }

    /// The user owning an access key.
    pub fn user_for_key(&self, access_key: &str) -> S3Result<Option<Arc<UserRecord>>> {
        let snap = self.snapshot()?;
        let Some(bytes) = snap.get(&keys::access_key(access_key)).map_err(meta_err)? else {
            return Ok(None);
        };
        let ak: AccessKeyRecord = decode(&bytes)?;
        match snap.get(&keys::user(&ak.user)).map_err(meta_err)? {
            Some(bytes) => Ok(Some(Arc::new(decode(&bytes)?))),
            None => Ok(None),
        }
    }

    pub fn get_user(&self, name: &str) -> S3Result<Option<UserRecord>> {
        let snap = self.snapshot()?;
        match snap.get(&keys::user(name)).map_err(meta_err)? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    pub fn list_users(&self) -> S3Result<Vec<UserRecord>> {
        let snap = self.snapshot()?;
        let end = ksan_meta::prefix_end(keys::USER_PREFIX);
        snap.range(keys::USER_PREFIX, &end, usize::MAX, false)
            .map_err(meta_err)?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// Find a user by e-mail address (case-insensitive), for grants by e-mail.
    pub fn user_by_email(&self, email: &str) -> S3Result<Option<UserRecord>> {
        Ok(self
            .list_users()?
            .into_iter()
            .find(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email))))
    }

    /// Find a user by canonical id (ACL grants name users that way).
    pub fn user_by_canonical_id(&self, id: &str) -> S3Result<Option<UserRecord>> {
        Ok(self.list_users()?.into_iter().find(|u| u.canonical_id == id))
    }

    /// Create a user with one access key. Fails with InvalidArgument if the name or the access
    /// key is taken.
    pub async fn create_user(
        &self,
        name: &str,
        access_key: &str,
        secret_key: &str,
        root: bool,
    ) -> S3Result<UserRecord> {
        self.create_user_with_email(name, access_key, secret_key, root, None)
            .await
    }

    /// As `create_user`, with an e-mail address ACL grants can name the user by.
    pub async fn create_user_with_email(
        &self,
        name: &str,
        access_key: &str,
        secret_key: &str,
        root: bool,
        email: Option<String>,
    ) -> S3Result<UserRecord> {
        if !valid_user_name(name) {
            return Err(S3Error::invalid_argument("Invalid user name", "name", name));
        }
        if access_key.len() < 3 || access_key.len() > 128 || secret_key.len() < 8 {
            return Err(S3Error::invalid_argument(
                "Access keys are 3 to 128 characters, secret keys at least 8",
                "access-key",
                access_key,
            ));
        }
        let user = UserRecord {
            name: name.to_owned(),
            canonical_id: hex::encode(rand::random::<[u8; 32]>()),
            display_name: name.to_owned(),
            access_keys: vec![access_key.to_owned()],
            root,
            created_ms: now_ms(),
            email,
        };
        let ak = AccessKeyRecord {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            user: name.to_owned(),
        };
        let user_bytes = encode(&user)?;
        let ak_bytes = encode(&ak)?;
        let (name_owned, ak_owned) = (name.to_owned(), access_key.to_owned());
        self.write(move |txn| {
            if txn.get(&keys::user(&name_owned)).map_err(meta_err)?.is_some() {
                return Err(S3Error::invalid_argument("User already exists", "name", name_owned));
            }
            if txn.get(&keys::access_key(&ak_owned)).map_err(meta_err)?.is_some() {
                return Err(S3Error::invalid_argument(
                    "Access key already exists",
                    "access-key",
                    ak_owned,
                ));
            }
            txn.put(&keys::user(&name_owned), &user_bytes).map_err(meta_err)?;
            txn.put(&keys::access_key(&ak_owned), &ak_bytes).map_err(meta_err)?;
            Ok(())
        })
        .await?;
        Ok(user)
    }

    /// Delete a user and its keys. Its buckets stay (owned by a canonical id nobody has).
    pub async fn delete_user(&self, name: &str) -> S3Result<()> {
        let name = name.to_owned();
        self.write(move |txn| {
            let Some(bytes) = txn.get(&keys::user(&name)).map_err(meta_err)? else {
                return Err(S3Error::new(ErrorCode::InvalidArgument).msg("No such user"));
            };
            let user: UserRecord = decode(&bytes)?;
            if user.root {
                return Err(S3Error::new(ErrorCode::InvalidArgument).msg("The root user cannot be deleted"));
            }
            for ak in &user.access_keys {
                txn.delete(&keys::access_key(ak)).map_err(meta_err)?;
            }
            txn.delete(&keys::user(&name)).map_err(meta_err)?;
            Ok(())
        })
        .await
    }

    /// Make sure the root user exists. With keys given (from the environment) they are made
    /// current; without, existing root keys are kept, or new ones generated. Returns the root
    /// keys and whether they were generated now (to be printed once).
    pub async fn ensure_root(&self, keys_given: Option<(String, String)>) -> S3Result<(String, String, bool)> {
        if let Some(root) = self.get_user(ROOT_USER)? {
            let current = root.access_keys.first().cloned().unwrap_or_default();
            match keys_given {
                Some((ak, sk)) if ak == current => {
                    if self.secret_for(&ak)?.as_deref() != Some(sk.as_str()) {
                        self.replace_root_key(&root, &ak, &sk).await?;
                    }
                    return Ok((ak, sk, false));
                }
                Some((ak, sk)) => {
                    self.replace_root_key(&root, &ak, &sk).await?;
                    return Ok((ak, sk, false));
                }
                None => {
                    let sk = self.secret_for(&current)?.unwrap_or_default();
                    return Ok((current, sk, false));
                }
            }
        }
        let (ak, sk, generated) = match keys_given {
            Some((ak, sk)) => (ak, sk, false),
            None => (generate_access_key(), generate_secret_key(), true),
        };
        self.create_user(ROOT_USER, &ak, &sk, true).await?;
        Ok((ak, sk, generated))
    }

    async fn replace_root_key(&self, root: &UserRecord, ak: &str, sk: &str) -> S3Result<()> {
        let mut user = root.clone();
        let old_keys = std::mem::replace(&mut user.access_keys, vec![ak.to_owned()]);
        let user_bytes = encode(&user)?;
        let ak_bytes = encode(&AccessKeyRecord {
            access_key: ak.to_owned(),
            secret_key: sk.to_owned(),
            user: user.name.clone(),
        })?;
        let ak = ak.to_owned();
        self.write(move |txn| {
            if let Some(existing) = txn.get(&keys::access_key(&ak)).map_err(meta_err)? {
                let existing: AccessKeyRecord = decode(&existing)?;
                if existing.user != ROOT_USER {
                    return Err(S3Error::invalid_argument(
                        "Access key belongs to another user",
                        "access-key",
                        ak,
                    ));
                }
            }
            for old in &old_keys {
                txn.delete(&keys::access_key(old)).map_err(meta_err)?;
            }
            txn.put(&keys::access_key(&ak), &ak_bytes).map_err(meta_err)?;
            txn.put(&keys::user(ROOT_USER), &user_bytes).map_err(meta_err)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::engine;

    #[tokio::test]
    async fn root_keys_generated_once_then_replaced_from_env() {
        let (e, _d) = engine();
        let (ak, sk, generated) = e.ensure_root(None).await.unwrap();
        assert!(generated);
        let (ak2, sk2, generated2) = e.ensure_root(None).await.unwrap();
        assert_eq!((ak.clone(), sk.clone(), false), (ak2, sk2, generated2));
        let (_, _, g) = e
            .ensure_root(Some(("ROOTKEY".into(), "rootsecret".into())))
            .await
            .unwrap();
        assert!(!g);
        assert_eq!(e.secret_for("ROOTKEY").unwrap().as_deref(), Some("rootsecret"));
        assert_eq!(e.secret_for(&ak).unwrap(), None);
        assert!(e.user_for_key("ROOTKEY").unwrap().unwrap().root);
    }

    #[tokio::test]
    async fn users_are_unique_and_deletable() {
        let (e, _d) = engine();
        e.create_user("alice", "AK1", "secretsecret", false).await.unwrap();
        assert!(e.create_user("alice", "AK2", "secretsecret", false).await.is_err());
        assert!(e.create_user("bob", "AK1", "secretsecret", false).await.is_err());
        assert_eq!(e.list_users().unwrap().len(), 1);
        e.delete_user("alice").await.unwrap();
        assert_eq!(e.secret_for("AK1").unwrap(), None);
        // a failed job left nothing behind
        assert!(e.get_user("bob").unwrap().is_none());
    }
}
