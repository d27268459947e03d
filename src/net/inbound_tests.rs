use super::*;
use tungstenite::protocol::frame::coding::Control;

/// A masked client frame of `len` payload bytes.
fn frame(opcode: OpCode, fin: bool, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let header = FrameHeader {
        is_final: fin,
        opcode,
        mask: Some([1, 2, 3, 4]),
        ..FrameHeader::default()
    };
    header.format(len as u64, &mut out).expect("format");
    out.extend(std::iter::repeat_n(b'x', len));
    out
}

const TEXT: OpCode = OpCode::Data(Data::Text);
const CONT: OpCode = OpCode::Data(Data::Continue);
const PING: OpCode = OpCode::Control(Control::Ping);

#[test]
fn whole_messages_leave_nothing_pending() {
    let mut t = Inbound::default();
    let mut bytes = frame(TEXT, true, 10);
    bytes.extend(frame(TEXT, true, 70_000));
    bytes.extend(frame(PING, true, 0));
    t.feed(&bytes);
    assert!(!t.pending());
    assert_eq!((t.held(), t.completed()), (0, 2));
}

#[test]
fn a_message_cut_anywhere_is_pending_until_its_last_byte() {
    let whole = frame(TEXT, true, 300);
    for cut in 1..whole.len() {
        let mut t = Inbound::default();
        t.feed(&whole[..cut]);
        assert!(t.pending(), "cut at {cut}");
        assert!(t.held() > 0);
        t.feed(&whole[cut..]);
        assert!(!t.pending(), "cut at {cut}, then the rest");
        assert_eq!(t.completed(), 1);
    }
}

#[test]
fn byte_by_byte_is_the_same_as_all_at_once() {
    let mut bytes = frame(TEXT, false, 5);
    bytes.extend(frame(PING, true, 3));
    bytes.extend(frame(CONT, false, 200));
    bytes.extend(frame(CONT, true, 70_000));
    let mut t = Inbound::default();
    for b in &bytes {
        t.feed(std::slice::from_ref(b));
    }
    assert!(!t.pending());
    assert_eq!(t.completed(), 1);
}

#[test]
fn a_stalled_fragmented_message_is_pending_and_counted() {
    let mut t = Inbound::default();
    t.feed(&frame(TEXT, false, 65_000));
    assert!(t.pending(), "a first fragment without its last");
    assert_eq!(t.held(), 65_008, "its payload and 8 bytes of header");
    // A ping in between changes nothing; a truncated continuation adds what came.
    t.feed(&frame(PING, true, 4));
    let cont = frame(CONT, true, 1000);
    t.feed(&cont[..500]);
    assert!(t.pending());
    assert_eq!(t.held(), 65_008 + 500);
    t.feed(&cont[500..]);
    assert!(!t.pending());
    assert_eq!(t.held(), 0);
}

#[test]
fn bytes_that_are_not_framing_stop_the_tracking() {
    let mut t = Inbound::default();
    t.feed(&[0x83, 0x80, 1, 2, 3, 4]); // opcode 3: reserved
    assert!(!t.pending());
    t.feed(&frame(TEXT, false, 10));
    assert!(
        !t.pending(),
        "tungstenite fails such a connection; nothing is followed"
    );
}

#[test]
fn a_long_frame_is_reported_once() {
    let mut t = Inbound::default();
    t.feed(&frame(TEXT, true, 100));
    assert!(!t.take_grown(4096));
    t.feed(&frame(TEXT, true, 10_000));
    assert!(t.take_grown(4096));
    assert!(!t.take_grown(4096), "asked and answered");
}
