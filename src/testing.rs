//! The strategies and oracles that the property tests of several modules share, once here
//! so that no module copies another's; what one module's properties alone use stays in
//! that module's `mod properties`, at the end of its file. Those properties test every
//! parser and validator: random and mutated input gives a correct value or a clean error,
//! never a panic, checked where one exists against code other than ours. `make test` runs
//! proptest's default 256 cases each; `make fuzz` sets PROPTEST_CASES far higher.

use crate::error::{Error, ErrorKind};
use proptest::prelude::*;
use proptest::sample::select;

/// Proptest's defaults, PROPTEST_CASES included, so `make fuzz` scales every property. No
/// failure file is written into the tree: a failure found is kept as a named test beside
/// the properties of the module it fails in.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A refusal of a bad argument: InvalidArgument, its message naming the value as `{:?}`
/// shows it.
pub(crate) fn names_the_value(error: &Error, value: &str) -> bool {
    error.kind() == ErrorKind::InvalidArgument && error.message().contains(&format!("{value:?}"))
}

/// Text for header values: mostly printable ASCII, with line breaks, other control
/// characters, DEL and non-ASCII mixed in.
pub(crate) fn header_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => proptest::char::range(' ', '~'),
            1 => select(vec!['\r', '\n', '\t', '\0', '\x7f', '\x0b', 'é', '\u{85}', '\u{2028}']),
            1 => any::<char>(),
        ],
        0..40,
    )
    .prop_map(String::from_iter)
}
