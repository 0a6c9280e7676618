//! Users and their access keys.

use std::sync::Arc;

use ksan_types::{ErrorCode, S3Error, S3Result};
use rand::Rng;

use ksan_meta::WriteOps;

use crate::records::{AccessKeyRecord, UserRecord, decode};
use crate::{Engine, keys, now_ms, store};

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

/// A new access key id (20 characters, `KS` and 18 of upper case and digits).
pub fn generate_access_key() -> String {
    format!("KS{}", random_string(AK_CHARSET, 18))
}

/// A new secret key (40 random characters).
pub fn generate_secret_key() -> String {
    random_string(SK_CHARSET, 40)
}

/// A user name may have 1 to 64 of letters, digits and `+=,.@_-`.
pub fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

impl Engine {
    /// The secret key of an access key, if it exists.
    pub async fn secret_for(&self, access_key: &str) -> S3Result<Option<String>> {
        let snap = self.snapshot().await?;
        store::get::<AccessKeyRecord>(&*snap, &keys::access_key(access_key))
            .await?
            .map(|ak| self.secret_of(&ak))
            .transpose()
    }

    /// The secret of an access key record: sealed (by the master key) or, in a record from
    /// before secrets were sealed, in the clear.
    fn secret_of(&self, ak: &AccessKeyRecord) -> S3Result<String> {
        match &ak.sealed_secret {
            Some(sealed) => self.keyring.open_user_secret(&ak.access_key, sealed),
            None => Ok(ak.secret_key.clone()),
        }
    }

    /// An access key record with its secret sealed.
    fn key_record(&self, access_key: &str, secret: &str, user: &str) -> S3Result<AccessKeyRecord> {
        Ok(AccessKeyRecord {
            access_key: access_key.to_owned(),
            secret_key: String::new(),
            sealed_secret: Some(self.keyring.seal_user_secret(access_key, secret)?),
            user: user.to_owned(),
        })
    }

    /// Seal the secrets that records from before sealing hold in the clear (at start).
    pub async fn seal_stored_secrets(&self) -> S3Result<usize> {
        let snap = self.snapshot().await?;
        let mut sealed = Vec::new();
        for (row, value) in store::scan(&*snap, keys::ACCESS_KEY_PREFIX, usize::MAX).await? {
            let ak: AccessKeyRecord = decode(&value)?;
            if ak.sealed_secret.is_none() {
                sealed.push((row, self.key_record(&ak.access_key, &ak.secret_key, &ak.user)?));
            }
        }
        let count = sealed.len();
        if count == 0 {
            return Ok(0);
        }
        let sealed = Arc::new(sealed);
        self.write(move |txn| {
            let sealed = sealed.clone();
            Box::pin(async move {
                for (row, record) in sealed.iter() {
                    store::put(txn, row, record)?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(count)
    }

    /// An access key's secret and its user, read together.
    pub async fn credentials(&self, access_key: &str) -> S3Result<Option<(String, Arc<UserRecord>)>> {
        let snap = self.snapshot().await?;
        let Some(ak) = store::get::<AccessKeyRecord>(&*snap, &keys::access_key(access_key)).await? else {
            return Ok(None);
        };
        let user = store::get::<UserRecord>(&*snap, &keys::user(&ak.user)).await?;
        match user {
            Some(u) => Ok(Some((self.secret_of(&ak)?, Arc::new(u)))),
            None => Ok(None),
        }
    }

    /// The user owning an access key.
    pub async fn user_for_key(&self, access_key: &str) -> S3Result<Option<Arc<UserRecord>>> {
        Ok(self.credentials(access_key).await?.map(|(_, u)| u))
    }

    /// A user by name.
    pub async fn get_user(&self, name: &str) -> S3Result<Option<UserRecord>> {
        store::get(&*self.snapshot().await?, &keys::user(name)).await
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> S3Result<Vec<UserRecord>> {
        let snap = self.snapshot().await?;
        store::scan(&*snap, keys::USER_PREFIX, usize::MAX)
            .await?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// The user an index row names.
    async fn user_by_index(&self, index_key: &[u8]) -> S3Result<Option<UserRecord>> {
        let snap = self.snapshot().await?;
        let Some(name) = store::get_raw(&*snap, index_key).await? else {
            return Ok(None);
        };
        let name = String::from_utf8(name).map_err(S3Error::internal)?;
        store::get(&*snap, &keys::user(&name)).await
    }

    /// Find a user by e-mail address (case-insensitive), for grants by e-mail.
    pub async fn user_by_email(&self, email: &str) -> S3Result<Option<UserRecord>> {
        self.user_by_index(&keys::user_by_email(email)).await
    }

    /// Find a user by canonical id (ACL grants name users that way).
    pub async fn user_by_canonical_id(&self, id: &str) -> S3Result<Option<UserRecord>> {
        self.user_by_index(&keys::user_by_canonical_id(id)).await
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
        let ak = self.key_record(access_key, secret_key, name)?;
        let (record, ak) = (Arc::new(user.clone()), Arc::new(ak));
        self.write(move |txn| {
            let (user, ak) = (record.clone(), ak.clone());
            Box::pin(async move {
                if store::get_raw(&*txn, &keys::user(&user.name)).await?.is_some()
                    || store::get_raw(&*txn, &keys::user_by_folded_name(&user.name))
                        .await?
                        .is_some()
                {
                    return Err(S3Error::invalid_argument(
                        "A user of that name already exists (names are compared without regard to case)",
                        "name",
                        user.name.clone(),
                    ));
                }
                if let Some(email) = &user.email
                    && store::get_raw(&*txn, &keys::user_by_email(email)).await?.is_some()
                {
                    return Err(S3Error::invalid_argument(
                        "Another user has that e-mail address",
                        "email",
                        email.clone(),
                    ));
                }
                if store::get_raw(&*txn, &keys::access_key(&ak.access_key))
                    .await?
                    .is_some()
                {
                    return Err(S3Error::invalid_argument(
                        "Access key already exists",
                        "access-key",
                        ak.access_key.clone(),
                    ));
                }
                store::put(txn, &keys::user(&user.name), &*user)?;
                store::put(txn, &keys::access_key(&ak.access_key), &*ak)?;
                index_user(txn, &user).await
            })
        })
        .await?;
        Ok(user)
    }

    /// Delete a user and its keys. A user who owns buckets is refused (its buckets would be
    /// left to nobody, their names taken for ever) unless `force`, which first gives every
    /// one of them to the root user.
    pub async fn delete_user(&self, name: &str, force: bool) -> S3Result<()> {
        let name = name.to_owned();
        let transferred = self.write(move |txn| {
            let name = name.clone();
            Box::pin(async move {
                let Some(user) = store::get_for_update::<UserRecord>(txn, &keys::user(&name)).await? else {
                    return Err(S3Error::new(ErrorCode::InvalidArgument).msg("No such user"));
                };
                if user.root {
                    return Err(S3Error::new(ErrorCode::InvalidArgument).msg("The root user cannot be deleted"));
                }
                let owned = crate::buckets::owned_by(&*txn, &user.canonical_id).await?;
                if !owned.is_empty() && !force {
                    let names: Vec<&str> = owned.iter().map(|b| b.name.as_str()).collect();
                    return Err(S3Error::new(ErrorCode::InvalidRequest).msg(format!(
                        "User {name} owns {} bucket(s): {}. Delete them first, or delete the user with --force to give them to the root user.",
                        owned.len(),
                        names.join(", ")
                    )));
                }
                if !owned.is_empty() {
                    let root: UserRecord = store::get(&*txn, &keys::user(ROOT_USER))
                        .await?
                        .ok_or_else(|| S3Error::internal("no root user"))?;
                    for bucket in &owned {
                        crate::buckets::transfer_in(txn, &bucket.name, &root).await?;
                    }
                }
                for ak in &user.access_keys {
                    store::delete(txn, &keys::access_key(ak))?;
                }
                for index in index_keys(&user) {
                    if store::get_raw(&*txn, &index).await?.as_deref() == Some(user.name.as_bytes()) {
                        store::delete(txn, &index)?;
                    }
                }
                store::delete(txn, &keys::user(&name))?;
                Ok(owned.into_iter().map(|b| b.name).collect::<Vec<_>>())
            })
        })
        .await?;
        for bucket in transferred {
            self.buckets.invalidate(&bucket);
        }
        Ok(())
    }

    /// Write the index rows of users made before there were any. Runs at start.
    pub async fn ensure_user_indexes(&self) -> S3Result<()> {
        let users = Arc::new(self.list_users().await?);
        self.write(move |txn| {
            let users = users.clone();
            Box::pin(async move {
                for user in users.iter() {
                    index_user(txn, user).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Make sure the root user exists. With keys given (from the environment) they are made
    /// current; without, existing root keys are kept, or new ones generated. Returns the root
    /// keys and whether they were generated now (to be printed once).
    pub async fn ensure_root(&self, keys_given: Option<(String, String)>) -> S3Result<(String, String, bool)> {
        if let Some(root) = self.get_user(ROOT_USER).await? {
            let current = root.access_keys.first().cloned().unwrap_or_default();
            match keys_given {
                Some((ak, sk)) if ak == current => {
                    if self.secret_for(&ak).await?.as_deref() != Some(sk.as_str()) {
                        self.replace_root_key(&root, &ak, &sk).await?;
                    }
                    return Ok((ak, sk, false));
                }
                Some((ak, sk)) => {
                    self.replace_root_key(&root, &ak, &sk).await?;
                    return Ok((ak, sk, false));
                }
                None => {
                    let sk = self.secret_for(&current).await?.unwrap_or_default();
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
        let record = Arc::new(self.key_record(ak, sk, &user.name)?);
        let (user, old_keys) = (Arc::new(user), Arc::new(old_keys));
        self.write(move |txn| {
            let (user, record, old_keys) = (user.clone(), record.clone(), old_keys.clone());
            Box::pin(async move {
                let ak = &record.access_key;
                if let Some(existing) = store::get_for_update::<AccessKeyRecord>(txn, &keys::access_key(ak)).await?
                    && existing.user != ROOT_USER
                {
                    return Err(S3Error::invalid_argument(
                        "Access key belongs to another user",
                        "access-key",
                        ak.clone(),
                    ));
                }
                for old in old_keys.iter() {
                    store::delete(txn, &keys::access_key(old))?;
                }
                store::put(txn, &keys::access_key(ak), &*record)?;
                store::put(txn, &keys::user(ROOT_USER), &*user)
            })
        })
        .await
    }
}

/// The index rows that name a user: by canonical id, and by e-mail address if it has one.
fn index_keys(user: &UserRecord) -> Vec<Vec<u8>> {
    let mut out = vec![
        keys::user_by_canonical_id(&user.canonical_id),
        keys::user_by_folded_name(&user.name),
    ];
    if let Some(email) = &user.email {
        out.push(keys::user_by_email(email));
    }
    out
}

/// Write a user's index rows where they are missing (an e-mail address or a folded name
/// already taken by users made before they had to be unique keeps naming its first user, as
/// grants by e-mail always resolved it).
async fn index_user(txn: &mut dyn WriteOps, user: &UserRecord) -> S3Result<()> {
    for index in index_keys(user) {
        if store::get_raw(&*txn, &index).await?.is_none() {
            store::put_raw(txn, &index, user.name.as_bytes())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ROOT_USER;
    use crate::records::AccessKeyRecord;
    use crate::testutil::engine;
    use crate::{keys, store};

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
        assert_eq!(e.secret_for("ROOTKEY").await.unwrap().as_deref(), Some("rootsecret"));
        // Stored sealed, never in the clear.
        let snap = e.snapshot().await.unwrap();
        let raw = store::get_raw(&*snap, &keys::access_key("ROOTKEY"))
            .await
            .unwrap()
            .unwrap();
        assert!(!raw.windows(10).any(|w| w == b"rootsecret"));
        drop(snap);
        // A record from before sealing reads, and is sealed at start.
        let legacy = AccessKeyRecord {
            access_key: "OLDKEY".into(),
            secret_key: "oldsecret1".into(),
            sealed_secret: None,
            user: ROOT_USER.into(),
        };
        e.write(move |txn| {
            let legacy = legacy.clone();
            Box::pin(async move { store::put(txn, &keys::access_key("OLDKEY"), &legacy) })
        })
        .await
        .unwrap();
        assert_eq!(e.secret_for("OLDKEY").await.unwrap().as_deref(), Some("oldsecret1"));
        assert_eq!(e.seal_stored_secrets().await.unwrap(), 1);
        assert_eq!(e.seal_stored_secrets().await.unwrap(), 0);
        assert_eq!(e.secret_for("OLDKEY").await.unwrap().as_deref(), Some("oldsecret1"));
        let snap = e.snapshot().await.unwrap();
        let raw = store::get_raw(&*snap, &keys::access_key("OLDKEY"))
            .await
            .unwrap()
            .unwrap();
        assert!(!raw.windows(10).any(|w| w == b"oldsecret1"));
        assert_eq!(e.secret_for(&ak).await.unwrap(), None);
        assert!(e.user_for_key("ROOTKEY").await.unwrap().unwrap().root);
    }

    #[tokio::test]
    async fn users_are_unique_and_deletable() {
        let (e, _d) = engine();
        let alice = e
            .create_user_with_email("alice", "AK1", "secretsecret", false, Some("Alice@Example.com".into()))
            .await
            .unwrap();
        assert!(e.create_user("alice", "AK2", "secretsecret", false).await.is_err());
        assert!(e.create_user("bob", "AK1", "secretsecret", false).await.is_err());
        assert_eq!(e.list_users().await.unwrap().len(), 1);
        // found through the index rows, the e-mail address without regard to case
        assert_eq!(
            e.user_by_email("alice@example.COM").await.unwrap().unwrap().name,
            "alice"
        );
        assert_eq!(
            e.user_by_canonical_id(&alice.canonical_id).await.unwrap().unwrap().name,
            "alice"
        );
        // names and e-mail addresses are unique without regard to case
        let e2 = e.create_user("ALICE", "AK3", "secretsecret", false).await.unwrap_err();
        assert!(e2.message.contains("already exists"), "{}", e2.message);
        let e3 = e
            .create_user_with_email("carol", "AK4", "secretsecret", false, Some("alice@EXAMPLE.com".into()))
            .await
            .unwrap_err();
        assert!(e3.message.contains("e-mail"), "{}", e3.message);
        e.delete_user("alice", false).await.unwrap();
        assert_eq!(e.secret_for("AK1").await.unwrap(), None);
        // the name is free again, in any case
        e.create_user("Alice", "AK5", "secretsecret", false).await.unwrap();
        assert!(e.user_by_email("alice@example.com").await.unwrap().is_none());
        assert!(e.user_by_canonical_id(&alice.canonical_id).await.unwrap().is_none());
        // a failed job left nothing behind
        assert!(e.get_user("bob").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_user_who_owns_buckets_is_deleted_only_by_force_and_root_gets_them() {
        let (e, _d) = engine();
        e.ensure_root(Some(("ROOTKEY".into(), "rootsecret".into())))
            .await
            .unwrap();
        let root = e.get_user(ROOT_USER).await.unwrap().unwrap();
        let bob = e.create_user("bob", "BOBKEY", "secretsecret", false).await.unwrap();
        e.create_bucket(&bob, "bobs-bucket", None).await.unwrap();
        let err = e.delete_user("bob", false).await.unwrap_err();
        assert!(
            err.message.contains("bobs-bucket") && err.message.contains("--force"),
            "{}",
            err.message
        );
        assert!(e.get_user("bob").await.unwrap().is_some(), "refused: nothing changed");
        e.delete_user("bob", true).await.unwrap();
        assert!(e.get_user("bob").await.unwrap().is_none());
        let b = e.bucket("bobs-bucket").await.unwrap();
        assert_eq!(
            (b.owner.as_str(), b.owner_display_name.as_str()),
            (root.canonical_id.as_str(), "root")
        );
        let names: Vec<String> = e
            .list_buckets(&root.canonical_id)
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.name)
            .collect();
        assert_eq!(names, ["bobs-bucket"]);
    }
}
