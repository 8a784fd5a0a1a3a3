//! The gateway's state: groups of pre-encoded families, striped by grouping key, with a
//! consistency index striped by metric name.
//!
//! # Design
//!
//! Upstream keeps one map behind one lock, applies every change on one goroutine, checks each
//! push by copying the whole store and running client_golang's `Gather` over all of it
//! (O(stored series) per push), and re-sorts and re-encodes everything on every scrape. Here:
//!
//! - **Groups are striped.** A group lives in one of [`STRIPES`] stripes chosen by a hash of
//!   its grouping key. A stripe has a writer mutex, which orders the changes to its groups
//!   (check, journal append, apply: the journal sees them in the order the store applies
//!   them), and a map from key to `Arc<Group>` behind a read-write lock that is held only to
//!   look up, clone or swap an `Arc`. Pushes to different stripes run in parallel; a scrape
//!   never waits for a check or a journal append.
//! - **Groups are pre-encoded.** A push is read, labelled and encoded once
//!   ([`crate::parse`]): every series is stored as its text lines and its protobuf `Metric`
//!   bytes, whose labels also order and identify it ([`Group`]). A new state is built in the writer's spare group and
//!   copied in; when no scrape holds the old `Arc`, into the stored group's own buffers, so
//!   re-pushing allocates nothing and each group holds about its own size.
//! - **The check is incremental.** Per metric name, the index counts the families of each
//!   type across all groups; per series, it counts the series with that identity (a hash of
//!   name and labels). A push is checked against index − (what it replaces) + (what it
//!   brings), which costs O(size of the push). The index is striped by the metric name with
//!   `_count`, `_sum` and `_bucket` suffixes removed, so that the names a suffix collision
//!   involves share a stripe; a push locks the stripes its names touch, in order, only while
//!   it checks and counts. A passing push is counted before its journal append (a concurrent
//!   push that would clash with it sees it), and uncounted if the append fails.
//! - **A scrape merges by copying.** It clones the groups' `Arc`s stripe by stripe, sorts the
//!   families by name (and groups by key), and for each name writes the winning HELP and
//!   type, then the series of all groups in client_golang's order (each group's are sorted
//!   already; several groups' are sorted together by their keys), copying their bytes.
//!   Whatever is inconsistent (possible only with the check disabled) is resolved there rather
//!   than failing the scrape: of families of one name with different types the winner's type
//!   is kept, a repeated series is written once, and a `_count`/`_sum`/`_bucket` family that
//!   collides with a summary or histogram is left out.
//!
//! # HELP across groups
//! When groups push one name with different HELP texts, the family pushed most recently
//! wins (ties: the group whose key sorts first); a family the gateway exposes itself always
//! has the gateway's HELP. Upstream picks one at random on each scrape, and logs every
//! conflict on every scrape; here a scrape logs the conflicts only when they changed.
//!
//! # Changes
//! [`Store::apply`] replays a journal record; [`Store::push`], [`Store::delete`],
//! [`Store::wipe`] are the live paths (check, journal, apply) and share apply's code, so that
//! the state is what replaying the journal gives. [`Store::snapshot`] writes one `Put` per
//! group that recreates it exactly.

use crate::group::{self, Fam, Group, Type, Values};
use crate::json;
use crate::limits::{is_over, Limits};
use crate::op::{Format, Journal, Kind, Label, Op};
use crate::own;
use crate::parse::{Parser, Reject, INVALID_PREFIX};
use crate::proto;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

/// Group stripes.
pub const STRIPES: usize = 64;
/// Index stripes.
pub const SHARDS: usize = 16;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Groups = HashMap<Box<[u8]>, Arc<Group>>;

#[derive(Debug, Default)]
struct Stripe {
    writer: Mutex<()>,
    groups: RwLock<Groups>,
}

impl Stripe {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Groups> {
        self.groups.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Groups> {
        self.groups.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts for the consistency check, for the names of one index stripe.
#[derive(Debug, Default)]
struct Shard {
    /// Families per type, by name.
    kinds: HashMap<Box<[u8]>, [u32; 6]>,
    /// Series per identity hash.
    series: HashMap<u64, u32>,
}

/// What a live push came to.
#[derive(Debug)]
pub enum Pushed {
    /// Stored (and durable).
    Stored,
    /// Refused; the text is [`Scratch::message`]. `recorded` when the refusal was recorded on
    /// the group as a failed push.
    Refused {
        /// Malformed (a parse error): a plain 400, whether the check is on or not.
        malformed: bool,
        /// Whether `push_failure_time_seconds` was set.
        recorded: bool,
    },
    /// Past a limit ([`crate::limits`]): nothing changed; answer `status` (400 for a limit
    /// on the push, 507 for one on the store) with [`Scratch::message`].
    Limited {
        /// The HTTP status to answer.
        status: u16,
    },
    /// The journal could not make the change durable; nothing changed.
    Journal(std::io::Error),
}

/// Why [`Store::apply`] could not apply a record.
#[derive(Debug)]
pub enum ApplyError {
    /// The record's body does not parse (it never came from a live push).
    Body(String),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Body(m) => write!(f, "record body refused: {m}"),
        }
    }
}

impl std::error::Error for ApplyError {}

/// One thread's buffers for pushing and scraping. Everything grows to the largest push or
/// scrape seen and is reused.
#[derive(Debug, Default)]
pub struct Scratch {
    parser: Parser,
    next: Group,
    key: Vec<u8>,
    record: Vec<u8>,
    rcount: HashMap<u64, u32>,
    held: Vec<Arc<Group>>,
    entries: Vec<Entry>,
    merge: Vec<(u64, u32, u32)>,
    spans: Vec<Entry>,
    stack: Vec<(u32, u32)>,
    /// HELP conflicts of the scrape: a signature, and (winner, other) entries.
    conflicts: (u64, Vec<(Entry, Entry)>),
    values: Values,
    msg: String,
}

impl Scratch {
    /// New, empty buffers.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    /// The text of the last refusal.
    pub fn message(&self) -> &str {
        &self.msg
    }
}

/// A family of some group, during a scrape.
#[derive(Clone, Copy, Debug)]
struct Entry {
    prefix: u64,
    group: u32,
    family: u32,
}

/// The store; see the module docs.
#[derive(Debug)]
pub struct Store {
    stripes: Box<[Stripe]>,
    shards: Box<[Mutex<Shard>]>,
    hasher: std::hash::RandomState,
    replay: Mutex<Scratch>,
    /// Signature of the HELP conflicts last logged, so that each is logged once per change.
    help_conflicts: AtomicU64,
    limits: Limits,
    /// Groups and series held, plus those reserved by changes not yet installed; see
    /// [`Store::reserve`].
    groups: AtomicUsize,
    series: AtomicUsize,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// The index stripes a change holds, in stripe order.
struct Locked<'a> {
    guards: [Option<MutexGuard<'a, Shard>>; SHARDS],
}

impl Locked<'_> {
    fn shard(&mut self, name: &[u8]) -> Option<&mut Shard> {
        self.guards[shard_of(name)].as_deref_mut()
    }
}

/// The name with `_count`, `_sum` and `_bucket` suffixes removed (repeatedly), so that every
/// name a suffix collision involves maps to the same index stripe.
fn root(mut name: &[u8]) -> &[u8] {
    loop {
        let stripped = name
            .strip_suffix(b"_count")
            .or_else(|| name.strip_suffix(b"_sum"))
            .or_else(|| name.strip_suffix(b"_bucket"));
        match stripped {
            Some(s) => name = s,
            None => return name,
        }
    }
}

fn shard_of(name: &[u8]) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    h.write(root(name));
    h.finish() as usize % SHARDS
}

fn mask_of<'a>(names: impl Iterator<Item = &'a [u8]>) -> u32 {
    names.fold(0, |m, n| m | 1 << shard_of(n))
}

/// What a merged family's head says: the winning family's name, HELP, type and kept fields.
struct Head<'a> {
    name: &'a [u8],
    help: Option<&'a [u8]>,
    kind: Type,
    extra: &'a [u8],
}

/// Writes one merged family: its head, then each distinct series of `series()` (group and
/// series index, in order; of equal series the first), as text or as a `MetricFamily`.
/// `series` is called once for text and twice for protobuf, whose length comes first.
fn write_family<'g, I>(
    out: &mut Vec<u8>,
    protobuf: bool,
    head: &Head<'_>,
    group: &impl Fn(u32) -> &'g Group,
    series: impl Fn() -> I,
) where
    I: Iterator<Item = (u32, u32)>,
{
    let distinct = || {
        let mut prev: Option<(u64, &'g [u8])> = None;
        series().filter_map(move |(g, si)| {
            let grp = group(g);
            let ser = &grp.series[si as usize];
            let k = (ser.prefix, grp.get(ser.labels()));
            if prev == Some(k) {
                return None;
            }
            prev = Some(k);
            Some((grp, ser))
        })
    };
    let Head { name, help, kind, extra } = *head;
    if protobuf {
        let mut len = 1 + proto::varint_len(name.len() as u64) + name.len();
        if let Some(h) = help {
            len += 1 + proto::varint_len(h.len() as u64) + h.len();
        }
        len += 1 + proto::varint_len(kind as u64) + extra.len();
        for (_, ser) in distinct() {
            let plen = (ser.proto().1 - ser.proto().0) as usize;
            len += 1 + proto::varint_len(plen as u64) + plen;
        }
        proto::put_varint(out, len as u64);
        proto::put_bytes(out, 1, name);
        if let Some(h) = help {
            proto::put_bytes(out, 2, h);
        }
        proto::put_uvarint(out, 3, kind as u64);
        for (g, ser) in distinct() {
            proto::put_bytes(out, 4, g.get(ser.proto()));
        }
        out.extend_from_slice(extra);
    } else {
        group::text_head(out, name, help, kind.text().unwrap_or("untyped"));
        for (g, ser) in distinct() {
            out.extend_from_slice(g.get(ser.text()));
        }
    }
}

/// Adds `add` to `counter` unless that takes it past `cap` (0: none); else writes the refusal
/// (`what`: `groups` or `series`, which also names the flag) into `msg`.
fn take(
    counter: &AtomicUsize,
    add: usize,
    cap: usize,
    what: &str,
    msg: &mut String,
) -> Result<(), ()> {
    if add == 0 {
        return Ok(());
    }
    match counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
        (!is_over(n + add, cap)).then_some(n + add)
    }) {
        Ok(_) => Ok(()),
        Err(n) => {
            let _ =
                write!(msg, "push refused: would hold {} {what}, --push.max-{what}={cap}", n + add);
            Err(())
        }
    }
}

/// What a change reserved against the store's caps: released if it fails.
#[derive(Clone, Copy, Debug)]
struct Reserved {
    groups: usize,
    series: usize,
}

impl Store {
    /// An empty store with the default [`Limits`].
    pub fn new() -> Store {
        Store::with_limits(Limits::default())
    }

    /// An empty store that applies `limits` to live pushes.
    pub fn with_limits(limits: Limits) -> Store {
        Store {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: std::hash::RandomState::new(),
            replay: Mutex::new(Scratch::new()),
            help_conflicts: AtomicU64::new(0),
            limits,
            groups: AtomicUsize::new(0),
            series: AtomicUsize::new(0),
        }
    }

    /// The limits live pushes get.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reserves what `next` replacing `old` adds to the store, if that stays within the caps;
    /// else writes the refusal into `msg`. Called with the group's writer lock held, so `old`
    /// is what is stored. A change that does not grow the store reserves nothing and always
    /// passes. The counters move by compare-and-swap, so concurrent pushes to different
    /// stripes never take the store past a cap together.
    fn reserve(&self, old: Option<&Group>, next: &Group, msg: &mut String) -> Result<Reserved, ()> {
        let held = old.map_or(0, |o| o.series.len());
        let want = Reserved {
            groups: usize::from(old.is_none()),
            series: next.series.len().saturating_sub(held),
        };
        take(&self.groups, want.groups, self.limits.groups, "groups", msg)?;
        if take(&self.series, want.series, self.limits.series, "series", msg).is_err() {
            self.groups.fetch_sub(want.groups, Ordering::AcqRel);
            return Err(());
        }
        Ok(want)
    }

    /// Uncounts what a live change that got its growth reserved took away: a group that went
    /// from `held` series to `now`.
    fn shrunk(&self, held: Option<usize>, now: usize) {
        if let Some(fewer) = held.and_then(|h| h.checked_sub(now)) {
            self.series.fetch_sub(fewer, Ordering::AcqRel);
        }
    }

    /// Gives back a reservation whose change failed.
    fn release(&self, r: Reserved) {
        self.groups.fetch_sub(r.groups, Ordering::AcqRel);
        self.series.fetch_sub(r.series, Ordering::AcqRel);
    }

    /// Counts a group going from `held` series (`None`: absent) to `now` (`None`: removed),
    /// with no cap: replay, removals, and live changes that made a group smaller (growth was
    /// reserved).
    fn account(&self, held: Option<usize>, now: Option<usize>) {
        match (held, now) {
            (None, Some(_)) => self.groups.fetch_add(1, Ordering::AcqRel),
            (Some(_), None) => self.groups.fetch_sub(1, Ordering::AcqRel),
            _ => 0,
        };
        let (held, now) = (held.unwrap_or(0), now.unwrap_or(0));
        if now > held {
            self.series.fetch_add(now - held, Ordering::AcqRel);
        } else {
            self.series.fetch_sub(held - now, Ordering::AcqRel);
        }
    }

    fn stripe(&self, key: &[u8]) -> &Stripe {
        let h = self.hasher.hash_one(key);
        &self.stripes[h as usize % STRIPES]
    }

    fn lock_shards(&self, mask: u32) -> Locked<'_> {
        Locked {
            guards: std::array::from_fn(|i| (mask & 1 << i != 0).then(|| lock(&self.shards[i]))),
        }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.stripes.iter().map(|s| s.read().len()).sum()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A live PUT or POST (`op.kind`): reads the body, checks it (unless `checked` is false),
    /// appends `op` to `journal`, and applies it. A refused push that is not malformed is
    /// recorded as a failed push (a `Failure` op) on its group, which is created if new.
    pub fn push(
        &self,
        s: &mut Scratch,
        journal: &dyn Journal,
        op: &Op<'_>,
        checked: bool,
    ) -> Pushed {
        s.msg.clear();
        s.parser.limits = self.limits.push;
        canonical_key(&mut s.key, &op.labels);
        match s.parser.read(op.format, op.body, &op.labels, op.time_ms, &mut s.next) {
            Ok(()) => {}
            Err(Reject::Parse) => {
                s.msg.push_str(s.parser.message());
                return Pushed::Refused { malformed: true, recorded: false };
            }
            Err(Reject::Limit) => {
                s.msg.push_str(s.parser.message());
                return Pushed::Limited { status: 400 };
            }
            Err(Reject::Invalid) => {
                s.msg.push_str(INVALID_PREFIX);
                s.msg.push_str(s.parser.message());
                return self.fail(s, journal, &op.labels, op.time_ms);
            }
        }
        if checked && s.parser.has_dup {
            s.msg.push_str(INVALID_PREFIX);
            s.msg.push_str(&s.parser.dup_msg);
            return self.fail(s, journal, &op.labels, op.time_ms);
        }
        let stripe = self.stripe(&s.key);
        let writer = lock(&stripe.writer);
        let old = stripe.read().get(&s.key[..]).cloned();
        build_push(&mut s.next, old.as_deref(), op.kind == Kind::Put, op.time_ms);
        let Ok(reserved) = self.reserve(old.as_deref(), &s.next, &mut s.msg) else {
            return Pushed::Limited { status: 507 };
        };
        let held = old.as_deref().map(|o| o.series.len());
        let mask = mask_of(s.next.families.iter().map(|f| s.next.name(f)))
            | old.as_deref().map_or(0, |o| mask_of(o.families.iter().map(|f| o.name(f))));
        {
            let mut shards = self.lock_shards(mask);
            if checked {
                let Scratch { next, rcount, msg, .. } = &mut *s;
                if !check(&mut shards, next, old.as_deref(), rcount, msg) {
                    drop(shards);
                    self.release(reserved);
                    let r = self.fail_locked(s, journal, &op.labels, op.time_ms, stripe, old);
                    drop(writer);
                    return r;
                }
            }
            count(&mut shards, &s.next, true, 1);
        }
        s.record.clear();
        op.encode(&mut s.record);
        if let Err(e) = journal.append(&s.record) {
            count(&mut self.lock_shards(mask), &s.next, true, -1);
            self.release(reserved);
            return Pushed::Journal(e);
        }
        self.install(s, stripe, old, mask);
        self.shrunk(held, s.next.series.len());
        drop(writer);
        Pushed::Stored
    }

    /// Records a refused push on its group: takes the group's writer lock.
    fn fail(
        &self,
        s: &mut Scratch,
        journal: &dyn Journal,
        labels: &[Label<'_>],
        time_ms: i64,
    ) -> Pushed {
        let stripe = self.stripe(&s.key);
        let _writer = lock(&stripe.writer);
        let old = stripe.read().get(&s.key[..]).cloned();
        self.fail_locked(s, journal, labels, time_ms, stripe, old)
    }

    /// Records a refused push with the group's writer lock held. The new state keeps every
    /// family and sets the failure time; a new group gets the two push-time gauges only, and
    /// is not created if even they would clash with another group's series.
    fn fail_locked(
        &self,
        s: &mut Scratch,
        journal: &dyn Journal,
        labels: &[Label<'_>],
        time_ms: i64,
        stripe: &Stripe,
        old: Option<Arc<Group>>,
    ) -> Pushed {
        build_failure(&mut s.next, labels, old.as_deref(), time_ms);
        let mut ignored = String::new();
        // The push's own refusal is what the client hears of; past a cap it is not recorded.
        let Ok(reserved) = self.reserve(old.as_deref(), &s.next, &mut ignored) else {
            return Pushed::Refused { malformed: false, recorded: false };
        };
        let held = old.as_deref().map(|o| o.series.len());
        let mask = mask_of(s.next.families.iter().map(|f| s.next.name(f)));
        {
            let mut shards = self.lock_shards(mask);
            let Scratch { next, rcount, .. } = &mut *s;
            if !check(&mut shards, next, old.as_deref(), rcount, &mut ignored) {
                self.release(reserved);
                return Pushed::Refused { malformed: false, recorded: false };
            }
            count(&mut shards, &s.next, true, 1);
        }
        let op = Op {
            kind: Kind::Failure,
            format: Format::Text,
            time_ms,
            labels: labels.iter().copied().collect(),
            body: b"",
        };
        s.record.clear();
        op.encode(&mut s.record);
        if let Err(e) = journal.append(&s.record) {
            count(&mut self.lock_shards(mask), &s.next, true, -1);
            self.release(reserved);
            log::error!(err:% = e; "cannot record a failed push in the journal");
            return Pushed::Refused { malformed: false, recorded: false };
        }
        self.install(s, stripe, old, mask);
        self.shrunk(held, s.next.series.len());
        Pushed::Refused { malformed: false, recorded: true }
    }

    /// Uncounts what `s.next` replaces of `old`, then installs a copy of `s.next`: into the
    /// stored group's own buffers when no scrape holds the old state, else into new ones of
    /// the right size. `s.next` keeps its buffers for the writer's next change.
    ///
    /// Copying (a `memcpy` of the group's bytes, under the stripe's write lock) rather than
    /// swapping buffers keeps each group's memory near its own size: a swap hands the
    /// buffers a large group was built in to whichever group the writer changes next, and
    /// then on, so that every small group ends up holding a buffer as large as the largest
    /// push (measured: 200 one-series groups pushed between pushes of a 10,000-series group
    /// held 420 MB for 1.5 MB of data).
    fn install(&self, s: &mut Scratch, stripe: &Stripe, old: Option<Arc<Group>>, mask: u32) {
        if let Some(o) = old.as_deref() {
            let mut shards = self.lock_shards(mask);
            uncount_replaced(&mut shards, o, &s.next);
        }
        drop(old);
        let fresh = || {
            let mut g = Group::default();
            g.assign(&s.next);
            Arc::new(g)
        };
        let mut groups = stripe.write();
        match groups.get_mut(&s.key[..]) {
            Some(arc) => match Arc::get_mut(arc) {
                Some(g) => g.assign(&s.next),
                None => *arc = fresh(),
            },
            None => {
                groups.insert(s.key.clone().into_boxed_slice(), fresh());
            }
        }
    }

    /// A live DELETE: journals it and removes the group (a no-op for an unknown group).
    ///
    /// # Errors
    /// The journal's: nothing changed.
    pub fn delete(
        &self,
        s: &mut Scratch,
        journal: &dyn Journal,
        op: &Op<'_>,
    ) -> std::io::Result<()> {
        canonical_key(&mut s.key, &op.labels);
        let stripe = self.stripe(&s.key);
        let _writer = lock(&stripe.writer);
        s.record.clear();
        op.encode(&mut s.record);
        journal.append(&s.record)?;
        self.remove(stripe, &s.key);
        Ok(())
    }

    fn remove(&self, stripe: &Stripe, key: &[u8]) {
        let Some(old) = stripe.write().remove(key) else { return };
        self.account(Some(old.series.len()), None);
        let mut shards = self.lock_shards(mask_of(old.families.iter().map(|f| old.name(f))));
        count(&mut shards, &old, false, -1);
    }

    /// A live admin wipe: journals it and removes every group.
    ///
    /// # Errors
    /// The journal's: nothing changed.
    pub fn wipe(&self, s: &mut Scratch, journal: &dyn Journal, op: &Op<'_>) -> std::io::Result<()> {
        let _writers: Vec<_> = self.stripes.iter().map(|st| lock(&st.writer)).collect();
        s.record.clear();
        op.encode(&mut s.record);
        journal.append(&s.record)?;
        self.clear_all();
        Ok(())
    }

    fn clear_all(&self) {
        let mut shards = self.lock_shards(u32::MAX);
        for st in self.stripes.iter() {
            st.write().clear();
        }
        // Every writer lock is held: no reservation is outstanding.
        self.groups.store(0, Ordering::Release);
        self.series.store(0, Ordering::Release);
        for g in shards.guards.iter_mut().flatten() {
            g.kinds.clear();
            g.series.clear();
        }
    }

    /// Applies one journal record without checking it: the replay path. The live paths
    /// apply records through the same code.
    ///
    /// # Errors
    /// A `Put`/`Post` body that does not parse (a damaged record).
    pub fn apply(&self, op: &Op<'_>) -> Result<(), ApplyError> {
        let mut guard = lock(&self.replay);
        let s = &mut *guard;
        canonical_key(&mut s.key, &op.labels);
        match op.kind {
            Kind::Put | Kind::Post => {
                if let Err(_e) =
                    s.parser.read(op.format, op.body, &op.labels, op.time_ms, &mut s.next)
                {
                    return Err(ApplyError::Body(s.parser.message().to_owned()));
                }
                let stripe = self.stripe(&s.key);
                let _writer = lock(&stripe.writer);
                let old = stripe.read().get(&s.key[..]).cloned();
                if op.format == Format::Snapshot {
                    finish_group(&mut s.next);
                } else {
                    build_push(&mut s.next, old.as_deref(), op.kind == Kind::Put, op.time_ms);
                }
                let mask = mask_of(s.next.families.iter().map(|f| s.next.name(f)))
                    | old.as_deref().map_or(0, |o| mask_of(o.families.iter().map(|f| o.name(f))));
                count(&mut self.lock_shards(mask), &s.next, true, 1);
                self.account(old.as_deref().map(|o| o.series.len()), Some(s.next.series.len()));
                self.install(s, stripe, old, mask);
            }
            Kind::Failure => {
                let stripe = self.stripe(&s.key);
                let _writer = lock(&stripe.writer);
                let old = stripe.read().get(&s.key[..]).cloned();
                build_failure(&mut s.next, &op.labels, old.as_deref(), op.time_ms);
                let mask = mask_of(s.next.families.iter().map(|f| s.next.name(f)));
                count(&mut self.lock_shards(mask), &s.next, true, 1);
                self.account(old.as_deref().map(|o| o.series.len()), Some(s.next.series.len()));
                self.install(s, stripe, old, mask);
            }
            Kind::Delete => {
                let stripe = self.stripe(&s.key);
                let _writer = lock(&stripe.writer);
                self.remove(stripe, &s.key);
            }
            Kind::Wipe => {
                let _writers: Vec<_> = self.stripes.iter().map(|st| lock(&st.writer)).collect();
                self.clear_all();
            }
        }
        Ok(())
    }

    /// Calls `f` with one `Put` op per group (in grouping-key order) that recreates the group
    /// exactly when applied to a store without it: families with their push times, HELP,
    /// types and series, and both push-time gauges' values and times.
    pub fn snapshot(&self, f: &mut impl FnMut(&Op<'_>)) {
        let mut held: Vec<Arc<Group>> = Vec::new();
        for st in self.stripes.iter() {
            // Under the writer lock: a change journaled before the snapshot began is applied
            // by the time its stripe is read. Compaction drops the log segment that held it,
            // so a snapshot read between its append and its apply would lose it.
            let _writer = lock(&st.writer);
            held.extend(st.read().values().cloned());
        }
        held.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let mut body = Vec::new();
        let mut msg = Vec::new();
        for g in &held {
            body.clear();
            for fam in &g.families {
                msg.clear();
                proto::put_bytes(&mut msg, 1, g.name(fam));
                if let Some(h) = fam.help {
                    proto::put_bytes(&mut msg, 2, g.get(h));
                }
                proto::put_uvarint(&mut msg, 3, fam.kind as u64);
                for ser in g.family_series(fam) {
                    proto::put_bytes(&mut msg, 4, g.get(ser.proto()));
                }
                msg.extend_from_slice(g.get(fam.extra));
                let name = g.name(fam);
                let (fam_ms, value_ms) = if name == group::PUSH_TIME.as_bytes() {
                    (g.push_family_ms, Some(g.push_ms))
                } else if name == group::PUSH_FAILURE_TIME.as_bytes() {
                    (g.fail_family_ms, Some(g.fail_ms))
                } else {
                    (fam.time_ms, None)
                };
                proto::put_uvarint(&mut msg, 1000, fam_ms as u64);
                if let Some(v) = value_ms {
                    proto::put_uvarint(&mut msg, 1001, v as u64);
                }
                proto::put_varint(&mut body, msg.len() as u64);
                body.extend_from_slice(&msg);
            }
            let op = Op {
                kind: Kind::Put,
                format: Format::Snapshot,
                time_ms: g.push_ms,
                labels: g.labels().collect(),
                body: &body,
            };
            f(&op);
        }
    }

    fn hold(&self, s: &mut Scratch) {
        s.held.clear();
        for st in self.stripes.iter() {
            s.held.extend(st.read().values().cloned());
        }
        s.held.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    }

    /// Calls `f` with every group in grouping-key order, for pages that list them. The groups
    /// are the states current when the call starts; the store is not locked while `f` runs
    /// (a change meanwhile swaps in a new state instead of reusing the held one's buffers).
    pub fn with_groups<R>(&self, s: &mut Scratch, f: impl FnOnce(&[Arc<Group>]) -> R) -> R {
        self.hold(s);
        let r = f(&s.held);
        s.held.clear();
        r
    }

    /// The group whose grouping key is `key` (as [`Group::key`] gives it), if there is one.
    pub fn group(&self, key: &[u8]) -> Option<Arc<Group>> {
        self.stripe(key).read().get(key).cloned()
    }

    /// Writes the exposition of `own` (the gateway's own families) and every group, merged,
    /// into `out`: text format 0.0.4, or varint-delimited protobuf `MetricFamily` messages
    /// when `protobuf`. Allocates only to grow the scratch and `out` past their largest size.
    pub fn scrape(&self, s: &mut Scratch, own_group: &Group, protobuf: bool, out: &mut Vec<u8>) {
        self.hold(s);
        let Scratch { held, entries, merge, spans, stack, conflicts, .. } = s;
        conflicts.0 = 0;
        conflicts.1.clear();
        let group = |i: u32| -> &Group {
            match i {
                0 => own_group,
                i => &held[i as usize - 1],
            }
        };
        entries.clear();
        for gi in 0..=held.len() as u32 {
            let g = group(gi);
            for (fi, f) in g.families.iter().enumerate() {
                entries.push(Entry {
                    prefix: group::name_prefix(g.name(f)),
                    group: gi,
                    family: fi as u32,
                });
            }
        }
        let name = |e: &Entry| {
            let g = group(e.group);
            g.name(&g.families[e.family as usize])
        };
        entries.sort_unstable_by(|a, b| {
            a.prefix.cmp(&b.prefix).then_with(|| name(a).cmp(name(b))).then(a.group.cmp(&b.group))
        });
        stack.clear();
        let mut i = 0;
        while i < entries.len() {
            let first = entries[i];
            let n = name(&first);
            let mut end = i + 1;
            while end < entries.len()
                && entries[end].prefix == first.prefix
                && name(&entries[end]) == n
            {
                end += 1;
            }
            let run = &entries[i..end];
            i = end;
            // The winner: the gateway's own family, else the latest push (ties: first key).
            let fam = |e: &Entry| &group(e.group).families[e.family as usize];
            let own_def = own::own(n);
            let winner = run
                .iter()
                .max_by(|a, b| fam(a).time_ms.cmp(&fam(b).time_ms).then(b.group.cmp(&a.group)));
            let Some(winner) = winner else { continue };
            let (kind, help): (Type, Option<&[u8]>) = match own_def {
                Some(o) => (o.kind, Some(o.help.as_bytes())),
                None => {
                    let w = fam(winner);
                    (w.kind, w.help.map(|h| group(winner.group).get(h)))
                }
            };
            if own_def.is_none() {
                // HELP conflicts, remembered to be logged when they change.
                for e in run {
                    let other = fam(e).help.map(|h| group(e.group).get(h));
                    if other != help {
                        let mut h = std::hash::DefaultHasher::new();
                        h.write(n);
                        h.write(help.unwrap_or_default());
                        h.write(other.unwrap_or_default());
                        conflicts.0 = conflicts.0.wrapping_add(h.finish());
                        conflicts.1.push((*winner, *e));
                    }
                }
            }
            if !protobuf && kind == Type::GaugeHistogram {
                continue;
            }
            // A suffix collision with a summary or histogram written before: left out.
            while let Some(&(g, f)) = stack.last() {
                let b = group(g).name(&group(g).families[f as usize]);
                if n.starts_with(b) {
                    break;
                }
                stack.pop();
            }
            let collides = stack.iter().any(|&(g, f)| {
                let base_fam = &group(g).families[f as usize];
                let b = group(g).name(base_fam);
                let suffix = &n[b.len()..];
                match base_fam.kind {
                    Type::Summary => suffix == b"_count" || suffix == b"_sum",
                    Type::Histogram | Type::GaugeHistogram => {
                        suffix == b"_count" || suffix == b"_sum" || suffix == b"_bucket"
                    }
                    _ => false,
                }
            });
            if collides {
                continue;
            }
            // The series of every family of the winning type, merged and de-duplicated.
            let labels = |&(_, g, si): &(u64, u32, u32)| {
                let grp = group(g);
                grp.get(grp.series[si as usize].labels())
            };
            let series_order = |a: &(u64, u32, u32), b: &(u64, u32, u32)| {
                a.0.cmp(&b.0).then_with(|| group::cmp_labels(labels(a), labels(b)))
            };
            let sorted_by = |a: &(u64, u32, u32), b: &(u64, u32, u32)| {
                series_order(a, b).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
            };
            // Each family's series are sorted. When the families' label ranges do not overlap
            // (usual: the grouping labels differ), they are laid end to end in the order of
            // their first series; otherwise every series is sorted.
            let at = |e: &Entry, first: bool| {
                let f = fam(e);
                let si = if first { f.series.0 } else { f.series.1 - 1 };
                (group(e.group).series[si as usize].prefix, e.group, si)
            };
            spans.clear();
            spans.extend(
                run.iter()
                    .filter(|e| fam(e).kind == kind && fam(e).series.0 < fam(e).series.1)
                    .copied(),
            );
            if !spans.is_sorted_by(|a, b| sorted_by(&at(a, true), &at(b, true)).is_le()) {
                spans.sort_unstable_by(|a, b| sorted_by(&at(a, true), &at(b, true)));
            }
            let disjoint = spans.windows(2).all(|w| {
                let (last, first) = (at(&w[0], false), at(&w[1], true));
                series_order(&last, &first).is_lt()
            });
            if spans.is_empty() {
                continue;
            }
            if matches!(kind, Type::Summary | Type::Histogram | Type::GaugeHistogram) {
                stack.push((winner.group, winner.family));
            }
            let extra = {
                let w = group(winner.group);
                w.get(fam(winner).extra)
            };
            let head = Head { name: n, help, kind, extra };
            if disjoint {
                // Each family's series in turn: already in order, nothing to sort or keep.
                let series = || {
                    spans.iter().flat_map(|e| {
                        let f = fam(e);
                        (f.series.0..f.series.1).map(|si| (e.group, si))
                    })
                };
                write_family(out, protobuf, &head, &group, series);
            } else {
                merge.clear();
                for e in spans.iter() {
                    let g = group(e.group);
                    let f = fam(e);
                    for si in f.series.0..f.series.1 {
                        merge.push((g.series[si as usize].prefix, e.group, si));
                    }
                }
                merge.sort_unstable_by(sorted_by);
                write_family(out, protobuf, &head, &group, || merge.iter().map(|m| (m.1, m.2)));
            }
        }
        if self.help_conflicts.swap(conflicts.0, Ordering::Relaxed) != conflicts.0 {
            for (w, e) in conflicts.1.iter() {
                let (wg, eg) = (group(w.group), group(e.group));
                let (wf, ef) = (&wg.families[w.family as usize], &eg.families[e.family as usize]);
                let text = |g: &Group, f: &Fam| {
                    String::from_utf8_lossy(f.help.map(|h| g.get(h)).unwrap_or_default())
                        .into_owned()
                };
                log::info!(
                    name = String::from_utf8_lossy(wg.name(wf)).as_ref(),
                    help = text(wg, wf).as_str(),
                    other = text(eg, ef).as_str();
                    "metric families have inconsistent help strings; the most recently pushed one is used"
                );
            }
        }
        s.held.clear();
    }

    /// Writes `/api/v1/metrics`' answer: `{"status":"success","data":[...]}`, one object per
    /// group (in key order) with its labels, whether its last push succeeded and one member
    /// per family, as upstream lays them out (a family named `labels` or
    /// `last_push_successful` replaces that member, as upstream's map does).
    pub fn json_metrics(&self, s: &mut Scratch, out: &mut Vec<u8>) {
        self.hold(s);
        let Scratch { held, values, .. } = s;
        out.extend_from_slice(b"{\"status\":\"success\",\"data\":[");
        for (gi, g) in held.iter().enumerate() {
            if gi > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let mut first = true;
            let mut member = |out: &mut Vec<u8>, name: &[u8]| {
                if !first {
                    out.push(b',');
                }
                first = false;
                json::string(out, name);
                out.push(b':');
            };
            let specials: [&[u8]; 2] = [b"labels", b"last_push_successful"];
            let mut fams = g.families.iter().peekable();
            let mut sp = specials.iter().peekable();
            loop {
                let next_fam = fams.peek().map(|f| g.name(f));
                let next_sp = sp.peek().map(|s| **s);
                match (next_fam, next_sp) {
                    (None, None) => break,
                    (Some(fname), Some(sname)) if sname < fname => {
                        sp.next();
                        member(out, sname);
                        special(out, g, sname);
                    }
                    (None, Some(sname)) => {
                        sp.next();
                        member(out, sname);
                        special(out, g, sname);
                    }
                    (Some(fname), s) => {
                        if s == Some(fname) {
                            sp.next();
                        }
                        let Some(f) = fams.next() else { break };
                        member(out, fname);
                        family_json(out, g, f, values);
                    }
                }
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        held.clear();
    }
}

fn special(out: &mut Vec<u8>, g: &Group, name: &[u8]) {
    if name == b"labels" {
        out.push(b'{');
        for (i, (n, v)) in g.labels().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(out, n);
            out.push(b':');
            json::string(out, v);
        }
        out.push(b'}');
    } else {
        let ok = g.fail_ms <= g.push_ms;
        out.extend_from_slice(if ok { b"true" } else { b"false" });
    }
}

fn family_json(out: &mut Vec<u8>, g: &Group, f: &Fam, values: &mut Values) {
    let (ts, value_override) = if g.name(f) == group::PUSH_TIME.as_bytes() {
        (g.push_family_ms, None::<f64>)
    } else if g.name(f) == group::PUSH_FAILURE_TIME.as_bytes() {
        (g.fail_family_ms, None)
    } else {
        (f.time_ms, None)
    };
    let _ = value_override;
    out.extend_from_slice(b"{\"time_stamp\":");
    json::time_ms(out, ts);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(f.kind.upper().as_bytes());
    out.push(b'"');
    if let Some(h) = f.help.map(|h| g.get(h)).filter(|h| !h.is_empty()) {
        out.extend_from_slice(b",\"help\":");
        json::string(out, h);
    }
    out.extend_from_slice(b",\"metrics\":[");
    for (i, ser) in g.family_series(f).iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        metric_json(out, f.kind, g.get(ser.proto()), values);
    }
    out.extend_from_slice(b"]}");
}

/// One metric as upstream's `makeEncodableMetrics` lays it out (members in key order, as
/// Go's map marshalling sorts them).
fn metric_json(out: &mut Vec<u8>, kind: Type, m: &[u8], values: &mut Values) {
    let mut labels: SmallVec<[(&[u8], &[u8]); 12]> = SmallVec::new();
    let mut r = proto::Reader::new(m);
    let field = kind.field();
    let mut subs: SmallVec<[&[u8]; 2]> = SmallVec::new();
    while let Ok(Some(f)) = r.next_field() {
        match (f.number, f.value) {
            (1, proto::FieldValue::Bytes(lp)) => {
                let (mut n, mut v): (&[u8], &[u8]) = (b"", b"");
                let mut lr = proto::Reader::new(lp);
                while let Ok(Some(x)) = lr.next_field() {
                    match (x.number, x.value) {
                        (1, proto::FieldValue::Bytes(b)) => n = b,
                        (2, proto::FieldValue::Bytes(b)) => v = b,
                        _ => {}
                    }
                }
                labels.push((n, v));
            }
            (n, proto::FieldValue::Bytes(b)) if n == field => subs.push(b),
            _ => {}
        }
    }
    values.read(kind, subs.iter().copied());
    let labels_json = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"\"labels\":{");
        for (i, (n, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::string(out, n);
            out.push(b':');
            json::string(out, v);
        }
        out.push(b'}');
    };
    out.push(b'{');
    match kind {
        Type::Summary => {
            out.extend_from_slice(b"\"count\":\"");
            out.extend_from_slice(itoa::Buffer::new().format(values.count).as_bytes());
            out.extend_from_slice(b"\",");
            labels_json(out);
            out.extend_from_slice(b",\"quantiles\":{");
            sorted_points(out, values, |p| p.2);
            out.extend_from_slice(b"},\"sum\":");
            json::float_string(out, values.sum);
        }
        Type::Histogram | Type::GaugeHistogram
            if crate::native::is_native(subs.iter().copied()) =>
        {
            crate::native::write_json(out, subs.iter().copied());
            out.push(b',');
            labels_json(out);
            out.extend_from_slice(b",\"sum\":");
            json::float_string(out, values.sum);
        }
        Type::Histogram | Type::GaugeHistogram => {
            out.extend_from_slice(b"\"buckets\":{");
            sorted_points(out, values, |p| if p.2 > 0.0 { p.2 } else { p.1 as f64 });
            out.extend_from_slice(b"},\"count\":\"");
            if values.count_float > 0.0 {
                engine::float::write_g(out, values.count_float);
            } else {
                out.extend_from_slice(itoa::Buffer::new().format(values.count).as_bytes());
            }
            out.extend_from_slice(b"\",");
            labels_json(out);
            out.extend_from_slice(b",\"sum\":");
            json::float_string(out, values.sum);
        }
        _ => {
            labels_json(out);
            out.extend_from_slice(b",\"value\":");
            json::float_string(out, values.value);
        }
    }
    out.push(b'}');
}

/// Quantiles or buckets as a JSON object keyed by the bound as Go prints it, keys sorted as
/// Go sorts map keys (bytewise); of equal keys the last wins, as in Go's map.
fn sorted_points(out: &mut Vec<u8>, values: &Values, value: impl Fn(&(f64, u64, f64)) -> f64) {
    let mut keyed: SmallVec<[(SmallVec<[u8; 24]>, f64); 16]> = SmallVec::new();
    for p in values.points.iter() {
        let mut k = Vec::new();
        engine::float::write_g(&mut k, p.0);
        let k = SmallVec::from_vec(k);
        match keyed.iter_mut().find(|(x, _)| *x == k) {
            Some(slot) => slot.1 = value(p),
            None => keyed.push((k, value(p))),
        }
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (k, v)) in keyed.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::string(out, k);
        out.push(b':');
        json::float_string(out, *v);
    }
}

/// The canonical grouping key bytes of sorted labels.
fn canonical_key(out: &mut Vec<u8>, labels: &[Label<'_>]) {
    out.clear();
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(0xff);
        }
        out.extend_from_slice(n);
        out.push(0xff);
        out.extend_from_slice(v);
    }
}

/// Completes a push read into `next`: for POST the old families it does not replace are
/// carried over; push times are set; the push-time gauges are added.
fn build_push(next: &mut Group, old: Option<&Group>, put: bool, time_ms: i64) {
    if let Some(old) = old {
        if !put {
            let pushed = next.families.len();
            for f in &old.families {
                let name = old.name(f);
                if group::is_synthetic(name) {
                    continue;
                }
                let replaced = next.families[..pushed]
                    .binary_search_by(|p| next.get(p.name).cmp(name))
                    .is_ok();
                if !replaced {
                    next.copy_family(old, f);
                }
            }
        }
        (next.fail_ms, next.fail_family_ms) = (old.fail_ms, old.fail_family_ms);
    } else {
        (next.fail_ms, next.fail_family_ms) = (0, time_ms);
    }
    (next.push_ms, next.push_family_ms) = (time_ms, time_ms);
    finish_group(next);
}

fn finish_group(next: &mut Group) {
    next.add_synthetic();
    next.sort_families();
}

/// A failed push's new state of the group with key `labels`.
fn build_failure(next: &mut Group, labels: &[Label<'_>], old: Option<&Group>, time_ms: i64) {
    next.reset(labels.iter().copied());
    match old {
        Some(old) => {
            for f in &old.families {
                if !group::is_synthetic(old.name(f)) {
                    next.copy_family(old, f);
                }
            }
            (next.push_ms, next.push_family_ms) = (old.push_ms, old.push_family_ms);
        }
        None => (next.push_ms, next.push_family_ms) = (0, time_ms),
    }
    (next.fail_ms, next.fail_family_ms) = (time_ms, time_ms);
    finish_group(next);
}

/// Adds (`delta` 1) or removes (-1) the families of `g` (only the fresh ones if
/// `fresh_only`) to or from the index.
fn count(shards: &mut Locked<'_>, g: &Group, fresh_only: bool, delta: i32) {
    for f in g.families.iter().filter(|f| f.fresh || !fresh_only) {
        count_family(shards, g, f, delta);
    }
}

fn count_family(shards: &mut Locked<'_>, g: &Group, f: &Fam, delta: i32) {
    let name = g.name(f);
    let Some(shard) = shards.shard(name) else { return };
    if delta > 0 {
        match shard.kinds.get_mut(name) {
            Some(k) => k[f.kind as usize] += 1,
            None => {
                let mut k = [0; 6];
                k[f.kind as usize] = 1;
                shard.kinds.insert(name.into(), k);
            }
        }
        for s in g.family_series(f) {
            *shard.series.entry(s.hash).or_insert(0) += 1;
        }
    } else {
        if let Some(k) = shard.kinds.get_mut(name) {
            k[f.kind as usize] = k[f.kind as usize].saturating_sub(1);
            if k.iter().all(|&c| c == 0) {
                shard.kinds.remove(name);
            }
        }
        for s in g.family_series(f) {
            if let Some(c) = shard.series.get_mut(&s.hash) {
                *c -= 1;
                if *c == 0 {
                    shard.series.remove(&s.hash);
                }
            }
        }
    }
}

/// Whether `old`'s family `f` is carried over into `next` unchanged.
fn is_kept(next: &Group, old: &Group, f: &Fam) -> bool {
    next.find(old.name(f)).is_some_and(|n| !n.fresh)
}

/// Uncounts the families of `old` that `next` replaces.
fn uncount_replaced(shards: &mut Locked<'_>, old: &Group, next: &Group) {
    for f in &old.families {
        if !is_kept(next, old, f) {
            count_family(shards, old, f, -1);
        }
    }
}

/// Checks `next`'s fresh families against the index minus what they replace of `old`, as
/// client_golang's `Gather` would check the merged store; writes the error text to `msg`.
fn check(
    shards: &mut Locked<'_>,
    next: &Group,
    old: Option<&Group>,
    rcount: &mut HashMap<u64, u32>,
    msg: &mut String,
) -> bool {
    rcount.clear();
    let replaced = |name: &[u8]| -> Option<&Fam> {
        let o = old?;
        let f = o.find(name)?;
        (!is_kept(next, o, f)).then_some(f)
    };
    if let Some(o) = old {
        for f in &o.families {
            if !is_kept(next, o, f) {
                for s in o.family_series(f) {
                    *rcount.entry(s.hash).or_insert(0) += 1;
                }
            }
        }
    }
    // Types present under `name` in the store after this change, as a bit set, leaving out
    // the fresh family `except`.
    let present = |shards: &mut Locked<'_>, name: &[u8], except: Option<&[u8]>| -> u8 {
        let mut bits = 0u8;
        if let Some(o) = own::own(name) {
            bits |= 1 << o.kind as u8;
        }
        if let Some(k) = shards.shard(name).and_then(|s| s.kinds.get(name)) {
            let r = replaced(name).map(|f| f.kind as usize);
            for (t, &c) in k.iter().enumerate() {
                if c > u32::from(r == Some(t)) {
                    bits |= 1 << t;
                }
            }
        }
        if except != Some(name) {
            if let Some(f) = next.find(name).filter(|f| f.fresh) {
                bits |= 1 << f.kind as u8;
            }
        }
        bits
    };
    const SUMMARY: u8 = 1 << Type::Summary as u8;
    const HISTOGRAM: u8 = 1 << Type::Histogram as u8;
    for f in next.families.iter().filter(|f| f.fresh) {
        let name = next.name(f);
        let series = next.family_series(f);
        let first = series.first().map(|s| next.get(s.proto())).unwrap_or_default();
        let describe = |msg: &mut String, m: &[u8]| {
            let _ = write!(msg, "collected metric {} {{ ", engine::quote::Quoted(name));
            crate::parse::describe_metric(msg, m);
            msg.push('}');
        };
        msg.clear();
        msg.push_str(INVALID_PREFIX);
        if let Some(o) = own::own(name).filter(|o| o.kind != f.kind) {
            let _ = write!(
                msg,
                "gathered metric family {} has type {} but should have {}",
                String::from_utf8_lossy(name),
                f.kind.upper(),
                o.kind.upper()
            );
            return false;
        }
        let others = present(shards, name, Some(name)) & !(1 << f.kind as u8);
        if let Some(t) = Type::ALL.iter().find(|t| others & 1 << **t as u8 != 0) {
            describe(msg, first);
            let _ = write!(msg, " is not a {}", t.upper());
            return false;
        }
        let base = name
            .strip_suffix(b"_count")
            .or_else(|| name.strip_suffix(b"_sum"))
            .or_else(|| name.strip_suffix(b"_bucket"));
        if let Some(base) = base.filter(|b| !b.is_empty()) {
            let bits = present(shards, base, Some(name));
            let q = |b: &[u8]| engine::quote::Quoted(b).to_string();
            if bits & SUMMARY != 0 && !name.ends_with(b"_bucket") {
                let _ = write!(
                    msg,
                    "collected metric named {} collides with previously collected summary named {}",
                    q(name),
                    q(base)
                );
                return false;
            }
            if bits & HISTOGRAM != 0 {
                let _ = write!(
                    msg,
                    "collected metric named {} collides with previously collected histogram named {}",
                    q(name),
                    q(base)
                );
                return false;
            }
        }
        if matches!(f.kind, Type::Summary | Type::Histogram) {
            let mut buf: SmallVec<[u8; 64]> = SmallVec::from_slice(name);
            let len = buf.len();
            for suffix in [&b"_count"[..], b"_sum", b"_bucket"] {
                if suffix == b"_bucket" && f.kind != Type::Histogram {
                    continue;
                }
                buf.truncate(len);
                buf.extend_from_slice(suffix);
                if present(shards, &buf, Some(name)) != 0 {
                    let what =
                        if suffix == b"_bucket" { "histogram" } else { "histogram or summary" };
                    let _ = write!(
                        msg,
                        "collected {what} named {} collides with previously collected metric named {}",
                        engine::quote::Quoted(name),
                        engine::quote::Quoted(&buf)
                    );
                    return false;
                }
            }
        }
        if let Some(shard) = shards.shard(name) {
            for s in series {
                let stored = shard.series.get(&s.hash).copied().unwrap_or(0);
                if stored > rcount.get(&s.hash).copied().unwrap_or(0) {
                    describe(msg, next.get(s.proto()));
                    msg.push_str(" was collected before with the same name and label values");
                    return false;
                }
            }
        }
    }
    msg.clear();
    true
}

#[cfg(test)]
impl Store {
    /// Whether the index counts exactly the families and series the groups hold, and the
    /// caps' counters exactly the groups and series.
    fn index_matches_groups(&self) -> bool {
        let mut kinds: HashMap<Vec<u8>, [u32; 6]> = HashMap::new();
        let mut series: HashMap<u64, u32> = HashMap::new();
        let (mut n_groups, mut n_series) = (0, 0);
        for st in self.stripes.iter() {
            for g in st.read().values() {
                n_groups += 1;
                n_series += g.series.len();
                for f in &g.families {
                    kinds.entry(g.name(f).to_vec()).or_default()[f.kind as usize] += 1;
                    for s in g.family_series(f) {
                        *series.entry(s.hash).or_default() += 1;
                    }
                }
            }
        }
        let mut got_kinds: HashMap<Vec<u8>, [u32; 6]> = HashMap::new();
        let mut got_series: HashMap<u64, u32> = HashMap::new();
        for sh in self.shards.iter() {
            let sh = lock(sh);
            got_kinds.extend(sh.kinds.iter().map(|(k, v)| (k.to_vec(), *v)));
            got_series.extend(sh.series.iter().map(|(k, v)| (*k, *v)));
        }
        kinds == got_kinds
            && series == got_series
            && self.groups.load(Ordering::Acquire) == n_groups
            && self.series.load(Ordering::Acquire) == n_series
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::PushLimits;
    use crate::op::Volatile;

    fn op<'a>(kind: Kind, labels: &[(&'a str, &'a str)], body: &'a str, t: i64) -> Op<'a> {
        Op {
            kind,
            format: Format::Text,
            time_ms: t,
            labels: labels.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect(),
            body: body.as_bytes(),
        }
    }

    fn scrape(store: &Store) -> String {
        let mut s = Scratch::new();
        let mut out = Vec::new();
        store.scrape(&mut s, &Group::default(), false, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn push(store: &Store, o: &Op<'_>) -> Result<(), String> {
        let mut s = Scratch::new();
        match store.push(&mut s, &Volatile, o, true) {
            Pushed::Stored => Ok(()),
            Pushed::Refused { .. } => Err(s.message().to_owned()),
            Pushed::Limited { status } => Err(format!("{status} {}", s.message())),
            Pushed::Journal(e) => Err(e.to_string()),
        }
    }

    /// Values gaining a digit do not move a group to new buffers (which would leave the old
    /// ones behind as holes in the heap).
    #[test]
    fn small_growth_keeps_the_buffers() {
        let st = Store::new();
        let body =
            |v: u32| -> String { (0..100).map(|i| format!("m{{i=\"{i}\"}} {v}\n")).collect() };
        let arena = |st: &Store| {
            st.with_groups(&mut Scratch::new(), |g| {
                (g[0].arena.as_ptr() as usize, g[0].arena.len())
            })
        };
        push(&st, &op(Kind::Put, &[("job", "j")], &body(1), 1)).unwrap();
        let (at, len) = arena(&st);
        for v in [10, 1, 10, 100] {
            push(&st, &op(Kind::Put, &[("job", "j")], &body(v), 1)).unwrap();
        }
        let (now, grown) = arena(&st);
        assert!(grown > len, "the values grew: {len} -> {grown}");
        assert_eq!(at, now, "the arena moved while growing by {} bytes of {len}", grown - len);
    }

    /// A writer that pushes a large group between small ones leaves each group with about
    /// its own size: buffers do not travel from the large group to the small ones.
    #[test]
    fn groups_keep_their_own_size() {
        let st = Store::new();
        let mut s = Scratch::new();
        let big: String = (0..2_000).map(|i| format!("big{{series=\"{i}\"}} {i}\n")).collect();
        let small: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        for _ in 0..2 {
            for job in &small {
                let o = op(Kind::Put, &[("job", "big")], &big, 1);
                assert!(matches!(st.push(&mut s, &Volatile, &o, true), Pushed::Stored));
                let o = op(Kind::Put, &[("job", job)], "small 1\n", 1);
                assert!(matches!(st.push(&mut s, &Volatile, &o, true), Pushed::Stored));
            }
        }
        let (mut len, mut cap) = (0, 0);
        st.with_groups(&mut Scratch::new(), |groups| {
            for g in groups {
                len += g.arena.len() + g.series.len() * std::mem::size_of::<group::Ser>();
                cap += g.arena.capacity() + g.series.capacity() * std::mem::size_of::<group::Ser>();
            }
        });
        assert!(cap <= len + len / 8, "{cap} bytes of buffers for {len} bytes of groups");
    }

    #[test]
    fn put_post_and_merge_order() {
        let st = Store::new();
        push(&st, &op(Kind::Put, &[("job", "b")], "m{x=\"2\"} 1\nm 0\n", 1000)).unwrap();
        push(&st, &op(Kind::Put, &[("instance", "i"), ("job", "a")], "m 5\nn 1\n", 2000)).unwrap();
        push(&st, &op(Kind::Post, &[("job", "b")], "o 3\n", 3000)).unwrap();
        let text = scrape(&st);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("push_")).collect();
        assert_eq!(
            lines,
            [
                "# TYPE m untyped",
                "m{instance=\"\",job=\"b\"} 0",
                "m{instance=\"i\",job=\"a\"} 5",
                "m{instance=\"\",job=\"b\",x=\"2\"} 1",
                "# TYPE n untyped",
                "n{instance=\"i\",job=\"a\"} 1",
                "# TYPE o untyped",
                "o{instance=\"\",job=\"b\"} 3",
                "# HELP push_failure_time_seconds Last Unix time when changing this group in the Pushgateway failed.",
                "# TYPE push_failure_time_seconds gauge",
                "# HELP push_time_seconds Last Unix time when changing this group in the Pushgateway succeeded.",
                "# TYPE push_time_seconds gauge",
            ]
        );
        assert!(text.contains("push_time_seconds{instance=\"\",job=\"b\"} 3\n"), "{text}");
        assert!(text.contains("push_time_seconds{instance=\"i\",job=\"a\"} 2\n"));
        push(&st, &op(Kind::Put, &[("job", "b")], "", 4000)).unwrap();
        assert!(!scrape(&st).contains("o{"));
    }

    #[test]
    fn disjoint_groups_laid_end_to_end_in_key_order() {
        let st = Store::new();
        push(&st, &op(Kind::Put, &[("job", "a"), ("x", "1")], "m{s=\"1\"} 1\nm{s=\"2\"} 2\n", 1))
            .unwrap();
        push(&st, &op(Kind::Put, &[("job", "b")], "m{s=\"1\"} 3\nm{s=\"2\"} 4\n", 2)).unwrap();
        push(&st, &op(Kind::Put, &[("job", "c")], "m{s=\"0\"} 5\n", 3)).unwrap();
        let text = scrape(&st);
        let m: Vec<&str> = text.lines().filter(|l| l.starts_with("m{")).collect();
        assert_eq!(
            m,
            [
                "m{instance=\"\",job=\"b\",s=\"1\"} 3",
                "m{instance=\"\",job=\"b\",s=\"2\"} 4",
                "m{instance=\"\",job=\"c\",s=\"0\"} 5",
                "m{instance=\"\",job=\"a\",s=\"1\",x=\"1\"} 1",
                "m{instance=\"\",job=\"a\",s=\"2\",x=\"1\"} 2",
            ]
        );
    }

    #[test]
    fn consistency_errors_and_failures() {
        let st = Store::new();
        push(&st, &op(Kind::Put, &[("job", "x")], "m 1\n", 1000)).unwrap();
        let e = push(&st, &op(Kind::Put, &[("job", "y")], "# TYPE m counter\nm 1\n", 2000))
            .unwrap_err();
        assert_eq!(
            e,
            "pushed metrics are invalid or inconsistent with existing metrics: collected metric \
             \"m\" { label:{name:\"instance\" value:\"\"} label:{name:\"job\" value:\"y\"} \
             counter:{value:1}} is not a UNTYPED"
        );
        let text = scrape(&st);
        assert!(text.contains("push_failure_time_seconds{instance=\"\",job=\"y\"} 2\n"), "{text}");
        assert!(text.contains("push_time_seconds{instance=\"\",job=\"y\"} 0\n"));
        let e = push(&st, &op(Kind::Put, &[("job", "z")], "d 1\nd 2\n", 3000)).unwrap_err();
        assert!(e.ends_with("was collected before with the same name and label values"), "{e}");
        push(&st, &op(Kind::Put, &[("job", "j7")], "dd{instance=\"x\"} 1\n", 1)).unwrap();
        let e = push(&st, &op(Kind::Put, &[("instance", "x"), ("job", "j7")], "dd 1\n", 2));
        assert!(e.unwrap_err().contains("was collected before"));
        // Re-pushing one's own series is fine, and replacing a type in the only group too.
        push(&st, &op(Kind::Put, &[("job", "x")], "# TYPE m gauge\nm 2\n", 4000)).unwrap();
        let e = push(
            &st,
            &op(
                Kind::Put,
                &[("job", "h")],
                "# TYPE m_count counter\nm_count 1\n# TYPE m summary\nm_sum 1\n",
                1,
            ),
        );
        assert!(e.unwrap_err().contains("is not a GAUGE"));
        push(&st, &op(Kind::Put, &[("job", "h")], "# TYPE hi histogram\nhi_count 1\n", 1)).unwrap();
        let e = push(&st, &op(Kind::Put, &[("job", "c")], "hi_count 5\n", 1)).unwrap_err();
        assert!(e.ends_with("collected metric named \"hi_count\" collides with previously collected histogram named \"hi\""), "{e}");
        let e = push(
            &st,
            &op(
                Kind::Put,
                &[("job", "o")],
                "# TYPE process_open_fds counter\nprocess_open_fds 1\n",
                1,
            ),
        )
        .unwrap_err();
        assert!(
            e.ends_with(
                "gathered metric family process_open_fds has type COUNTER but should have GAUGE"
            ),
            "{e}"
        );
        let e = push(&st, &op(Kind::Put, &[("job", "t")], "m 1 1000\n", 1)).unwrap_err();
        assert!(e.ends_with("pushed metrics must not have timestamps"));
        let e = push(&st, &op(Kind::Put, &[("job", "t")], "rl{__x=\"1\"} 1\n", 1)).unwrap_err();
        assert!(e.ends_with("has a label with an invalid name: __x"), "{e}");
    }

    #[test]
    fn help_of_latest_push_wins() {
        let st = Store::new();
        push(&st, &op(Kind::Put, &[("job", "h1")], "# HELP hm A\nhm 1\n", 1000)).unwrap();
        push(&st, &op(Kind::Put, &[("job", "h2")], "# HELP hm B\nhm 2\n", 2000)).unwrap();
        assert!(scrape(&st)
            .contains("# HELP hm B\n# TYPE hm untyped\nhm{instance=\"\",job=\"h1\"} 1\n"));
        push(&st, &op(Kind::Put, &[("job", "h1")], "# HELP hm A\nhm 1\n", 3000)).unwrap();
        assert!(scrape(&st).contains("# HELP hm A\n"));
    }

    #[test]
    fn unchecked_inconsistencies_never_break_a_scrape() {
        let st = Store::new();
        let mut s = Scratch::new();
        for (job, body, t) in [
            ("x", "# TYPE a counter\na 1\n", 1),
            ("y", "# TYPE a gauge\na 1\n", 2),
            ("z", "d 1\nd 2\n", 3),
        ] {
            let o = op(Kind::Put, &[("job", job)], body, t);
            assert!(matches!(st.push(&mut s, &Volatile, &o, false), Pushed::Stored));
        }
        let text = scrape(&st);
        assert!(text.contains("# TYPE a gauge\na{instance=\"\",job=\"y\"} 1\n"), "{text}");
        assert!(!text.contains("job=\"x\"} 1"));
        assert!(text.contains("d{instance=\"\",job=\"z\"} 1\n# HELP"));
    }

    /// A journal that keeps every record, for replaying.
    #[derive(Debug, Default)]
    struct Recording(Mutex<Vec<Vec<u8>>>);

    impl Journal for Recording {
        fn append(&self, record: &[u8]) -> std::io::Result<()> {
            lock(&self.0).push(record.to_vec());
            Ok(())
        }
    }

    fn json(s: &Store) -> String {
        let mut out = Vec::new();
        s.json_metrics(&mut Scratch::new(), &mut out);
        String::from_utf8(out).unwrap()
    }

    proptest::proptest! {
        /// Live changes, checked or not, refused or not, leave exactly the state that
        /// replaying their journal gives, and a snapshot recreates it.
        #[test]
        fn journal_replay_and_snapshot_recreate_the_state(
            ops in proptest::collection::vec((0..4u8, 0..3u8, 0..6u8, 0..3u8, proptest::bool::ANY), 1..40),
        ) {
            // Small caps: some pushes are refused for room, which must leave no trace.
            let live = Store::with_limits(Limits { groups: 4, series: 14, ..Limits::default() });
            let journal = Recording::default();
            let mut s = Scratch::new();
            let bodies = [
                "a 1\n",
                "# TYPE a counter\na 2\nb{x=\"1\"} 1\n",
                "# HELP c h1\n# TYPE c summary\nc{quantile=\"0.5\"} 1\nc_sum 1\nc_count 1\n",
                "d 1\nd 2\n",
                "e 1 100\n",
                "# HELP c h2\nc_count 3\nb{x=\"1\"} 1\n",
            ];
            for (t, (kind, job, body, inst, checked)) in ops.into_iter().enumerate() {
                let job = ["j0", "j1", "j2"][job as usize];
                let inst = ["", "i", "k"][inst as usize];
                let mut labels = vec![("job", job)];
                if !inst.is_empty() {
                    labels.insert(0, ("instance", inst));
                }
                let kind = [Kind::Put, Kind::Post, Kind::Delete, Kind::Put][kind as usize];
                let o = op(kind, &labels, bodies[body as usize], t as i64 * 10);
                match kind {
                    Kind::Delete => live.delete(&mut s, &journal, &o).unwrap(),
                    _ => drop(live.push(&mut s, &journal, &o, checked)),
                }
            }
            proptest::prop_assert!(live.index_matches_groups());
            let replayed = Store::new();
            for record in lock(&journal.0).iter() {
                replayed.apply(&Op::decode(record).unwrap()).unwrap();
            }
            proptest::prop_assert_eq!(scrape(&replayed), scrape(&live));
            proptest::prop_assert_eq!(json(&replayed), json(&live));
            let copy = Store::new();
            live.snapshot(&mut |o| copy.apply(o).unwrap());
            proptest::prop_assert_eq!(scrape(&copy), scrape(&live));
            proptest::prop_assert_eq!(json(&copy), json(&live));
            proptest::prop_assert!(replayed.index_matches_groups() && copy.index_matches_groups());
        }
    }

    #[test]
    fn the_group_cap_refuses_new_groups_only_and_changes_nothing() {
        let st = Store::with_limits(Limits { groups: 2, ..Limits::default() });
        push(&st, &op(Kind::Put, &[("job", "a")], "m 1\n", 1)).unwrap();
        push(&st, &op(Kind::Put, &[("job", "b")], "m 2\n", 2)).unwrap();
        let before = scrape(&st);
        let e = push(&st, &op(Kind::Put, &[("job", "c")], "m 3\n", 3)).unwrap_err();
        assert_eq!(e, "507 push refused: would hold 3 groups, --push.max-groups=2");
        assert_eq!(scrape(&st), before);
        // Replacing a stored group, even with more series, needs no new group.
        push(&st, &op(Kind::Post, &[("job", "a")], "n 1\nm 4\n", 4)).unwrap();
        st.delete(&mut Scratch::new(), &Volatile, &op(Kind::Delete, &[("job", "b")], "", 5))
            .unwrap();
        push(&st, &op(Kind::Put, &[("job", "c")], "m 3\n", 6)).unwrap();
        assert!(st.index_matches_groups() && st.len() == 2);
    }

    #[test]
    fn the_series_cap_counts_growth_and_lets_groups_shrink() {
        // Each group holds its series plus the two push-time gauges.
        let st = Store::with_limits(Limits { series: 8, ..Limits::default() });
        push(&st, &op(Kind::Put, &[("job", "a")], "a 1\nb 1\nc 1\n", 1)).unwrap();
        let e = push(&st, &op(Kind::Put, &[("job", "b")], "a 1\nb 1\n", 2)).unwrap_err();
        assert_eq!(e, "507 push refused: would hold 9 series, --push.max-series=8");
        push(&st, &op(Kind::Put, &[("job", "b")], "a 1\n", 2)).unwrap();
        // At the cap: a same-size replacement passes, a larger one does not.
        push(&st, &op(Kind::Put, &[("job", "a")], "x 1\ny 1\nz 1\n", 3)).unwrap();
        let before = scrape(&st);
        assert!(push(&st, &op(Kind::Post, &[("job", "b")], "b 1\n", 4)).is_err());
        assert_eq!(scrape(&st), before);
        // Shrinking one group makes room for another to grow.
        push(&st, &op(Kind::Put, &[("job", "a")], "x 1\n", 5)).unwrap();
        push(&st, &op(Kind::Post, &[("job", "b")], "b 1\nc 1\n", 6)).unwrap();
        assert!(st.index_matches_groups());
    }

    #[test]
    fn per_push_limits_refuse_with_400_and_store_nothing() {
        let push_limits =
            PushLimits { labels_per_series: 3, series_per_push: 2, label_value_bytes: 5 };
        let st = Store::with_limits(Limits { push: push_limits, ..Limits::default() });
        // job and instance count: one label of the body's own fits.
        push(&st, &op(Kind::Put, &[("job", "a")], "m{x=\"12345\"} 1\nn 1\n", 1)).unwrap();
        let before = scrape(&st);
        for (body, flag) in [
            ("m{x=\"1\",y=\"2\"} 1\n", "--push.max-labels-per-series=3"),
            ("m 1\nn 1\no 1\n", "--push.max-series-per-push=2"),
            ("m{x=\"123456\"} 1\n", "--push.max-label-value-bytes=5"),
        ] {
            let e = push(&st, &op(Kind::Post, &[("job", "a")], body, 2)).unwrap_err();
            assert!(e.starts_with("400 push refused: ") && e.ends_with(flag), "{e}");
            assert_eq!(scrape(&st), before);
        }
        // Replay takes what the journal holds whatever the limits.
        let replayed = Store::with_limits(Limits {
            push: push_limits,
            groups: 1,
            series: 1,
            ..Limits::default()
        });
        for job in ["a", "b"] {
            replayed
                .apply(&op(Kind::Put, &[("job", job)], "m 1\nn 1\no{a=\"1\",b=\"2\"} 1\n", 1))
                .unwrap();
        }
        assert!(replayed.len() == 2 && replayed.index_matches_groups());
    }

    #[test]
    fn concurrent_pushes_never_pass_the_caps_together() {
        let st = Arc::new(Store::with_limits(Limits { groups: 50, ..Limits::default() }));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let st = Arc::clone(&st);
                std::thread::spawn(move || {
                    let mut s = Scratch::new();
                    (0..100)
                        .filter(|i| {
                            let job = format!("j{t}-{i}");
                            let o = op(Kind::Put, &[("job", &job)], "m 1\n", 1);
                            matches!(st.push(&mut s, &Volatile, &o, true), Pushed::Stored)
                        })
                        .count()
                })
            })
            .collect();
        let stored: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!((stored, st.len()), (50, 50));
        assert!(st.index_matches_groups());
    }

    #[test]
    fn concurrent_pushes_deletes_wipes_keep_the_index_exact() {
        let st = Arc::new(Store::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let st = Arc::clone(&st);
                std::thread::spawn(move || {
                    let mut s = Scratch::new();
                    for i in 0..300 {
                        let job = format!("j{}", (i * 7 + t) % 5);
                        let body = ["a 1\nb 2\n", "# TYPE a gauge\na 3\n", "c 1\nc 2\n"][i % 3];
                        let o =
                            op([Kind::Put, Kind::Post][i % 2], &[("job", &job)], body, i as i64);
                        match i % 50 {
                            7 => st
                                .delete(
                                    &mut s,
                                    &Volatile,
                                    &op(Kind::Delete, &[("job", &job)], "", 0),
                                )
                                .unwrap(),
                            49 if t == 0 => {
                                st.wipe(&mut s, &Volatile, &op(Kind::Wipe, &[], "", 0)).unwrap()
                            }
                            _ => drop(st.push(&mut s, &Volatile, &o, t % 2 == 0)),
                        }
                        if i % 10 == 0 {
                            let mut out = Vec::new();
                            st.scrape(&mut s, &Group::default(), i % 20 == 0, &mut out);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(st.index_matches_groups());
        let mut s = Scratch::new();
        for j in 0..5 {
            st.delete(&mut s, &Volatile, &op(Kind::Delete, &[("job", &format!("j{j}"))], "", 0))
                .unwrap();
        }
        assert!(st.is_empty() && st.index_matches_groups());
    }

    #[test]
    fn snapshot_replays_exactly() {
        let st = Store::new();
        push(
            &st,
            &op(
                Kind::Put,
                &[("job", "a")],
                "# HELP m h\n# TYPE m summary\nm{quantile=\"0.5\"} 1\nm_sum 2\nm_count 3\n",
                1000,
            ),
        )
        .unwrap();
        push(&st, &op(Kind::Post, &[("job", "a")], "n 1\n", 2000)).unwrap();
        let _ = push(&st, &op(Kind::Put, &[("job", "a")], "n 1 5\n", 3000));
        let _ = push(&st, &op(Kind::Put, &[("job", "new")], "n 1 5\n", 4000));
        let copy = Store::new();
        st.snapshot(&mut |o| copy.apply(o).unwrap());
        assert_eq!(scrape(&copy), scrape(&st));
        assert_eq!(json(&copy), json(&st));
        // Replaying the same ops gives the same state too.
        let replayed = Store::new();
        for o in [
            op(Kind::Put, &[("job", "a")], "x 1\n", 1),
            op(Kind::Failure, &[("job", "a")], "", 2),
            op(Kind::Post, &[("job", "a")], "y 1\n", 3),
            op(Kind::Delete, &[("job", "b")], "", 4),
            op(Kind::Failure, &[("job", "c")], "", 5),
        ] {
            replayed.apply(&o).unwrap();
        }
        let j = json(&replayed);
        assert!(j.contains("\"last_push_successful\":true,\"push_failure_time_seconds\""), "{j}");
        assert!(j.contains("\"labels\":{\"job\":\"c\"},\"last_push_successful\":false"), "{j}");
        replayed.apply(&op(Kind::Wipe, &[], "", 6)).unwrap();
        assert!(replayed.is_empty());
    }
}
