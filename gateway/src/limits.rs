//! What the gateway accepts: the size of a push, of its series, and of the whole store.
//!
//! Upstream limits none of these, so one runaway job (a label with a request ID, a loop that
//! pushes a group per iteration) can take all the memory a Pushgateway has. Here each limit
//! is a flag (see the README's "Limits" section) and a push past one is refused whole, with a
//! message naming the limit and its flag, before anything is stored:
//!
//! - per push ([`PushLimits`], checked by the parser as it reads each series): 400;
//! - the decoded body (gzip or snappy) past `--push.max-body-bytes`: 413, as the raw body is;
//! - the store's totals ([`Limits::groups`], [`Limits::series`]): 507 Insufficient Storage.
//!   A push that does not make the store larger (a group replaced by one of equal or smaller
//!   size) is always accepted, so lowering a cap never blocks updating what is stored.
//!
//! Replaying the journal applies no limit: what was accepted once is never dropped.

use crate::group::Label;
use std::fmt::Write as _;

/// Limits on one push, applied to every series the body holds; 0 means no limit. The
/// default has none: the replay path reads with it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct PushLimits {
    /// Labels of one series as stored: its own, the grouping labels and `instance`.
    pub labels_per_series: usize,
    /// Series in one push body (a summary or histogram is one series).
    pub series_per_push: usize,
    /// Bytes of one label value.
    pub label_value_bytes: usize,
}

/// Every limit the gateway applies; 0 means no limit (but for `body_bytes`).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Limits {
    /// Bytes of a request body, and of what a gzip or snappy body decodes to.
    pub body_bytes: usize,
    /// Limits on each push.
    pub push: PushLimits,
    /// Groups the store holds at most.
    pub groups: usize,
    /// Series the store holds at most, counting each group's `push_time_seconds` and
    /// `push_failure_time_seconds`.
    pub series: usize,
}

impl Default for Limits {
    /// The flags' defaults: 64 MiB bodies; 64 labels a series (a label set ten times the
    /// usual one); 100,000 series a push (about 10 MB of text); no limit on a label value
    /// (the body limit bounds it); one million groups and ten million series in all (some
    /// gigabytes: past that a Pushgateway is being used as a database).
    fn default() -> Limits {
        Limits {
            body_bytes: 64 << 20,
            push: PushLimits {
                labels_per_series: 64,
                series_per_push: 100_000,
                label_value_bytes: 0,
            },
            groups: 1_000_000,
            series: 10_000_000,
        }
    }
}

/// Whether `n` is past `limit` (0: no limit).
pub(crate) fn is_over(n: usize, limit: usize) -> bool {
    limit != 0 && n > limit
}

impl PushLimits {
    /// Checks the series of metric `name` with `labels` (as stored) about to be added after
    /// `before` others; on a refusal writes why into `msg`. Allocates only then.
    pub(crate) fn check_series(
        &self,
        name: &[u8],
        labels: &[Label<'_>],
        before: usize,
        msg: &mut String,
    ) -> Result<(), ()> {
        let quoted = engine::quote::Quoted(name);
        if is_over(before + 1, self.series_per_push) {
            let _ = write!(
                msg,
                "push refused: more than {} series (at metric {quoted}), \
                 --push.max-series-per-push={}",
                self.series_per_push, self.series_per_push
            );
            return Err(());
        }
        if is_over(labels.len(), self.labels_per_series) {
            let _ = write!(
                msg,
                "push refused: a series of metric {quoted} has {} labels (grouping labels \
                 and instance included), --push.max-labels-per-series={}",
                labels.len(),
                self.labels_per_series
            );
            return Err(());
        }
        if let Some((n, v)) = labels.iter().find(|(_, v)| is_over(v.len(), self.label_value_bytes))
        {
            let _ = write!(
                msg,
                "push refused: label {} of a series of metric {quoted} has a value of {} \
                 bytes, --push.max-label-value-bytes={}",
                engine::quote::Quoted(n),
                v.len(),
                self.label_value_bytes
            );
            return Err(());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PushLimits =
        PushLimits { labels_per_series: 3, series_per_push: 2, label_value_bytes: 4 };

    fn check(labels: &[Label<'_>], before: usize) -> Result<(), String> {
        let mut msg = String::new();
        LIMITS.check_series(b"m", labels, before, &mut msg).map_err(|()| msg)
    }

    #[test]
    fn each_limit_is_inclusive_and_named() {
        let three: &[Label<'_>] = &[(b"a", b"1234"), (b"b", b""), (b"instance", b"")];
        assert_eq!(check(three, 1), Ok(()));
        let e = check(three, 2).unwrap_err();
        assert!(e.contains("more than 2 series") && e.contains("max-series-per-push=2"), "{e}");
        let four: &[Label<'_>] = &[(b"a", b""), (b"b", b""), (b"c", b""), (b"instance", b"")];
        let e = check(four, 0).unwrap_err();
        assert!(e.contains("has 4 labels") && e.contains("max-labels-per-series=3"), "{e}");
        let e = check(&[(b"a", b"12345")], 0).unwrap_err();
        assert!(e.contains("\"a\"") && e.contains("5 bytes, --push.max-label"), "{e}");
    }

    #[test]
    fn zero_is_no_limit() {
        let mut msg = String::new();
        let many: Vec<Label<'_>> = (0..1000).map(|_| (&b"x"[..], &[b'v'; 1000][..])).collect();
        assert!(PushLimits::default().check_series(b"m", &many, 1 << 30, &mut msg).is_ok());
        assert!(msg.is_empty());
        assert!(!is_over(usize::MAX, 0) && is_over(2, 1) && !is_over(1, 1));
    }
}
