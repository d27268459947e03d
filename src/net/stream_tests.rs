//! Unit tests for `stream`.
use super::*;

/// A connected pair: the server side wrapped in a `Stream`, the peer blocking.
fn pair() -> (Stream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    (Stream::new(TcpStream::from_std(server)), peer)
}

fn read_exact(peer: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    let mut got = vec![0; n];
    peer.read_exact(&mut got).unwrap();
    got
}

#[test]
fn queued_head_goes_out_before_the_first_write_and_the_write_is_taken_whole() {
    let (mut stream, mut peer) = pair();
    stream.queue_raw(b"HTTP/1.1 101\r\n\r\n");
    assert_eq!(stream.write(b"frame-1").unwrap(), 7);
    assert!(stream.pre.is_empty());
    assert_eq!(stream.write(b"frame-2").unwrap(), 7);
    assert_eq!(
        read_exact(&mut peer, 30),
        b"HTTP/1.1 101\r\n\r\nframe-1frame-2"
    );
}

#[test]
fn a_peer_that_never_reads_cannot_grow_the_head_queue() {
    let (mut stream, _peer) = pair();
    let chunk = [b'x'; 1024];
    // Fill the kernel's buffers so nothing more goes out.
    while stream.tcp.write(&chunk).is_ok() {}
    stream.queue_raw(b"HEAD");
    let mut blocked = false;
    for _ in 0..1000 {
        match stream.write(&chunk) {
            Ok(n) => assert_eq!(n, chunk.len()),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                blocked = true;
                break;
            }
        }
        assert!(stream.pre.len() <= MERGE_LIMIT);
    }
    assert!(blocked, "writes must block once the head queue is full");
}
