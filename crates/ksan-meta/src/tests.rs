//! The suite both backends must pass.

use super::*;

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

async fn put_all(kv: &dyn MetaKv, pairs: &[(&str, &str)]) {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = pairs.iter().map(|(k, x)| (v(k), v(x))).collect();
    write::<_, MetaError, _>(kv, move |t| {
        let pairs = pairs.clone();
        Box::pin(async move {
            for (k, x) in &pairs {
                t.put(k, x)?;
            }
            Ok(())
        })
    })
    .await
    .unwrap();
}

async fn suite(kv: &dyn MetaKv) {
    put_all(kv, &[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]).await;
    let s = kv.read().await.unwrap();
    assert_eq!(s.get(b"b").await.unwrap(), Some(v("2")));
    assert_eq!(s.get(b"x").await.unwrap(), None);
    let keys = |e: Entries| {
        e.into_iter()
            .map(|(k, _)| String::from_utf8(k).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(s.range(b"a", b"d", 10, false).await.unwrap()), ["a", "b", "c"]);
    assert_eq!(keys(s.range(b"a", b"e", 2, true).await.unwrap()), ["d", "c"]);
    assert_eq!(keys(s.range(b"b", b"b", 2, false).await.unwrap()), Vec::<String>::new());

    // inside a job: own writes visible, deletes hidden, merged ranges both ways
    let seen = write::<_, MetaError, _>(kv, |t| {
        Box::pin(async move {
            t.put(b"bb", b"x")?;
            t.delete(b"c")?;
            t.put(b"a", b"9")?;
            let fwd = t.range(b"a", b"z", 10, false).await?;
            let back = t.range(b"a", b"z", 3, true).await?;
            Ok((fwd, back, t.get(b"c").await?, t.get_for_update(b"a").await?))
        })
    })
    .await
    .unwrap();
    assert_eq!(keys(seen.0), ["a", "b", "bb", "d"]);
    assert_eq!(keys(seen.1), ["d", "bb", "b"]);
    assert_eq!(seen.2, None);
    assert_eq!(seen.3, Some(v("9")));

    // the old snapshot does not see later writes
    assert_eq!(s.get(b"c").await.unwrap(), Some(v("3")));
    let s2 = kv.read().await.unwrap();
    assert_eq!(s2.get(b"c").await.unwrap(), None);
    assert_eq!(s2.get(b"bb").await.unwrap(), Some(v("x")));

    // a failing job leaves nothing
    let r = write::<(), MetaError, _>(kv, |t| {
        Box::pin(async move {
            t.put(b"zz", b"no")?;
            Err(MetaError::Backend("refused".into()))
        })
    })
    .await;
    assert!(r.is_err());
    assert_eq!(kv.read().await.unwrap().get(b"zz").await.unwrap(), None);
}

#[tokio::test]
async fn a_conflicting_job_runs_again_on_fresh_state() {
    let kv = MemKv::new();
    put_all(&kv, &[("counter", "0")]).await;
    let runs = Arc::new(AtomicU32::new(0));
    kv.inject_conflicts(2);
    let seen = runs.clone();
    let value = write::<_, MetaError, _>(&kv, move |t| {
        let runs = seen.clone();
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            let n: u32 = String::from_utf8(t.get_for_update(b"counter").await?.unwrap_or_default())
                .unwrap()
                .parse()
                .unwrap();
            t.put(b"counter", (n + 1).to_string().as_bytes())?;
            Ok(n + 1)
        })
    })
    .await
    .unwrap();
    // Two conflicting runs whose writes were discarded, then one that committed.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(value, 1);
    assert_eq!(kv.read().await.unwrap().get(b"counter").await.unwrap(), Some(v("1")));
    // A store that keeps conflicting gives up after MAX_ATTEMPTS runs.
    runs.store(0, Ordering::SeqCst);
    kv.inject_conflicts(100);
    let seen = runs.clone();
    let r = write::<(), MetaError, _>(&kv, move |t| {
        let runs = seen.clone();
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            t.put(b"counter", b"x")
        })
    })
    .await;
    assert!(matches!(r, Err(MetaError::Conflict)));
    assert_eq!(runs.load(Ordering::SeqCst), MAX_ATTEMPTS);
    assert_eq!(kv.read().await.unwrap().get(b"counter").await.unwrap(), Some(v("1")));
}

#[tokio::test]
async fn mem_backend() {
    suite(&MemKv::new()).await;
}

#[tokio::test]
async fn redb_backend() {
    let dir = tempfile::tempdir().unwrap();
    let kv = RedbKv::open(&dir.path().join("m.redb")).unwrap();
    suite(&kv).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_and_failures_stay_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let kv = Arc::new(RedbKv::open(&dir.path().join("m.redb")).unwrap());
    let before = kv.commit_count();
    let mut tasks = Vec::new();
    for i in 0..500u32 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            write::<_, MetaError, _>(&*kv, move |t| {
                Box::pin(async move {
                    t.put(format!("k{i:04}").as_bytes(), b"v")?;
                    if i % 7 == 0 {
                        return Err(MetaError::Backend("odd one out".into()));
                    }
                    Ok(())
                })
            })
            .await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        assert_eq!(r.is_err(), i % 7 == 0);
    }
    let commits = kv.commit_count() - before;
    assert!(commits < 250, "500 writers took {commits} commits");
    let snap = kv.read().await.unwrap();
    let all = snap.range(b"k", b"l", 1000, false).await.unwrap();
    assert_eq!(all.len(), 500 - 500usize.div_ceil(7));
    assert_eq!(snap.get(b"k0007").await.unwrap(), None);
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.redb");
    {
        let kv = RedbKv::open(&path).unwrap();
        put_all(&kv, &[("persist", "yes")]).await;
    }
    // The committer thread lets go of the file once the sender is dropped.
    let mut kv = None;
    for _ in 0..100 {
        match RedbKv::open(&path) {
            Ok(k) => {
                kv = Some(k);
                break;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    let kv = kv.unwrap();
    assert_eq!(kv.read().await.unwrap().get(b"persist").await.unwrap(), Some(v("yes")));
}

#[test]
fn prefix_ends() {
    assert_eq!(prefix_end(b"ab"), b"ac");
    assert_eq!(prefix_end(b"a\xff"), b"b");
    assert_eq!(prefix_end(b"\xff\xff"), vec![0xFF; 64]);
}
