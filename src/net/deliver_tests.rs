//! Unit tests for `deliver`.
use super::*;

#[test]
fn metric_labels_match_wire_names() {
    for e in ClientEvent::ALL {
        assert_eq!(received_label(e).as_str(), e.name());
    }
}
