//! The load tool's target: a ws:// URL on a loopback address (no other host is ever
//! loaded), parsed once.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    pub addr: SocketAddr,
}

pub fn parse_target(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("only ws:// URLs are supported: {url}"))?;
    let hostport = rest.split(['/', '?']).next().unwrap_or("");
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let end = h.find(']').ok_or("bad IPv6 literal")?;
        let port = h[end + 1..].strip_prefix(':').unwrap_or("80");
        (&h[..end], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, p),
            None => (hostport, "80"),
        }
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port in {url}"))?;
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("host must be a loopback IP or localhost: {host}"))?
    };
    let ok = match ip {
        IpAddr::V4(v4) => v4.octets()[0] == 127,
        IpAddr::V6(v6) => v6.is_loopback(),
    };
    if !ok {
        return Err(format!(
            "refusing non-loopback target {ip}: only 127.x.x.x, ::1 or localhost"
        ));
    }
    Ok(Target {
        url: url.to_string(),
        addr: SocketAddr::new(ip, port),
    })
}
