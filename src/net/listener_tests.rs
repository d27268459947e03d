//! Unit tests for `listener`.
use super::*;

/// The accepted socket must carry the options set once on the listener.
#[test]
fn accepted_sockets_inherit_nodelay_and_keepalive() {
    let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let _client = std::net::TcpStream::connect(addr).unwrap();
    let accepted = loop {
        match listener.accept() {
            Ok((tcp, _)) => break tcp,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    if !cfg!(target_os = "linux") {
        set_stream_options(&socket2::SockRef::from(&accepted)).unwrap();
    }
    let sock = socket2::SockRef::from(&accepted);
    assert!(sock.tcp_nodelay().unwrap());
    assert!(sock.keepalive().unwrap());
    assert_eq!(sock.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
    assert_eq!(sock.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
    assert_eq!(sock.tcp_keepalive_retries().unwrap(), KEEPALIVE_RETRIES);
}
