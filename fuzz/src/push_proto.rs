//! Protobuf push bodies (varint-delimited `MetricFamily` messages) into
//! `gateway::store::Store`: the round-trip and no-change-on-refusal properties of
//! [`push`](crate::push).

/// Checks one input: a flags byte, then the body.
pub fn check(data: &[u8]) {
    crate::push::check(gateway::op::Format::Protobuf, data);
}
