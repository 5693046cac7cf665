//! The UDP tracker protocol's packets (BEP 15): build and parse, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::announce::{AnnounceRequest, AnnounceResponse, Event, TrackerError};

/// The magic number a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const ERROR: u32 = 3;

fn bad(reason: impl Into<String>) -> TrackerError {
    TrackerError::BadResponse(reason.into())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// A connect request (16 bytes).
pub fn connect_request(transaction_id: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(16);
    p.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
    p.extend_from_slice(&CONNECT.to_be_bytes());
    p.extend_from_slice(&transaction_id.to_be_bytes());
    p
}

/// Checks the common head of an answer: its action and transaction id. An error answer
/// (action 3) becomes [`TrackerError::Failure`] with the tracker's message.
fn check_head(b: &[u8], action: u32, transaction_id: u32) -> Result<(), TrackerError> {
    if b.len() < 8 {
        return Err(bad(format!("a {}-byte answer is too short", b.len())));
    }
    let got_tid = u32_at(b, 4);
    if got_tid != transaction_id {
        return Err(bad(format!(
            "transaction id {got_tid:#x} does not match {transaction_id:#x}"
        )));
    }
    match u32_at(b, 0) {
        a if a == action => Ok(()),
        ERROR => Err(TrackerError::Failure(
            String::from_utf8_lossy(&b[8..]).into_owned(),
        )),
        other => Err(bad(format!("action {other} where {action} was expected"))),
    }
}

/// Parses a connect answer; returns the connection id.
pub fn parse_connect_response(b: &[u8], transaction_id: u32) -> Result<u64, TrackerError> {
    check_head(b, CONNECT, transaction_id)?;
    if b.len() < 16 {
        return Err(bad("connect answer shorter than 16 bytes"));
    }
    Ok(u64::from_be_bytes(b[8..16].try_into().expect("8 bytes")))
}

/// An announce request (98 bytes).
pub fn announce_request(connection_id: u64, transaction_id: u32, r: &AnnounceRequest) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(&connection_id.to_be_bytes());
    p.extend_from_slice(&ANNOUNCE.to_be_bytes());
    p.extend_from_slice(&transaction_id.to_be_bytes());
    p.extend_from_slice(&r.info_hash.0);
    p.extend_from_slice(&r.peer_id.0);
    p.extend_from_slice(&r.downloaded.to_be_bytes());
    p.extend_from_slice(&r.left.to_be_bytes());
    p.extend_from_slice(&r.uploaded.to_be_bytes());
    p.extend_from_slice(&Event::udp_code(r.event).to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // IP: the sender's
    p.extend_from_slice(&r.key.to_be_bytes());
    let want: i32 = r
        .numwant
        .map(|n| n.min(i32::MAX as u32) as i32)
        .unwrap_or(-1);
    p.extend_from_slice(&want.to_be_bytes());
    p.extend_from_slice(&r.port.to_be_bytes());
    p
}

/// Parses an announce answer. Peers are 6 bytes each over IPv4, 18 over IPv6 (`ipv6`).
pub fn parse_announce_response(
    b: &[u8],
    transaction_id: u32,
    ipv6: bool,
) -> Result<AnnounceResponse, TrackerError> {
    check_head(b, ANNOUNCE, transaction_id)?;
    if b.len() < 20 {
        return Err(bad("announce answer shorter than 20 bytes"));
    }
    let step = if ipv6 { 18 } else { 6 };
    let rest = &b[20..];
    if rest.len() % step != 0 {
        return Err(bad(format!(
            "{} bytes of peers is not a whole number of {step}-byte peers",
            rest.len()
        )));
    }
    let peers = rest
        .chunks_exact(step)
        .map(|c| {
            let ip = if ipv6 {
                let a: [u8; 16] = c[..16].try_into().expect("16 bytes");
                IpAddr::V6(Ipv6Addr::from(a))
            } else {
                IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            };
            SocketAddr::new(ip, u16::from_be_bytes([c[step - 2], c[step - 1]]))
        })
        .collect();
    Ok(AnnounceResponse {
        interval: u32_at(b, 8),
        min_interval: None,
        peers,
        incomplete: Some(u32_at(b, 12)),
        complete: Some(u32_at(b, 16)),
        warning: None,
        tracker_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metainfo::InfoHash;
    use crate::tracker::announce::PeerId;

    #[test]
    fn packets_have_the_sizes_and_fields_of_bep_15() {
        let c = connect_request(7);
        assert_eq!(c.len(), 16);
        assert_eq!(&c[..8], &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
        let mut answer = vec![0, 0, 0, 0, 0, 0, 0, 7];
        answer.extend_from_slice(&99u64.to_be_bytes());
        assert_eq!(parse_connect_response(&answer, 7), Ok(99));
        assert!(parse_connect_response(&answer, 8).is_err());
        assert!(parse_connect_response(&answer[..12], 7).is_err());

        let req = AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 6881,
            uploaded: 3,
            downloaded: 4,
            left: 5,
            event: Some(Event::Started),
            numwant: None,
            key: 9,
        };
        let a = announce_request(99, 8, &req);
        assert_eq!(a.len(), 98);
        assert_eq!(u32_at(&a, 80), 2, "started is event 2");
        assert_eq!(&a[92..96], &(-1i32).to_be_bytes());

        let mut resp = vec![0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 60, 0, 0, 0, 1, 0, 0, 0, 2];
        resp.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        let r = parse_announce_response(&resp, 8, false).unwrap();
        assert_eq!(r.interval, 60);
        assert_eq!(
            r.peers,
            vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]
        );
        assert!(parse_announce_response(&resp[..23], 8, false).is_err());

        let mut err = vec![0, 0, 0, 3, 0, 0, 0, 8];
        err.extend_from_slice(b"no such torrent");
        assert_eq!(
            parse_announce_response(&err, 8, false),
            Err(TrackerError::Failure("no such torrent".into()))
        );
    }
}
