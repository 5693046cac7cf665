//! The little HTTP/1.x a tracker needs: tracker URLs, a GET request, a response, and (for our
//! own tracker) a request's path and query. Pure: bytes in, values out, no I/O.

use super::announce::{url_decode, TrackerError};

/// The largest HTTP message accepted in either direction.
pub const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// A tracker URL taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerUrl {
    /// `http` or `udp` (or `https`, which is refused when used).
    pub scheme: String,
    /// The host name or address (without brackets for IPv6).
    pub host: String,
    /// The port (default 80 for http).
    pub port: u16,
    /// The path and query, starting with `/`.
    pub path: String,
}

impl TrackerUrl {
    /// Parses `scheme://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<TrackerUrl, TrackerError> {
        let bad = || TrackerError::BadUrl(url.to_string());
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
            let (h, after) = stripped.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse::<u16>().map_err(|_| bad())?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().map_err(|_| bad())?)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let port = match (port, scheme.as_str()) {
            (Some(p), _) => p,
            (None, "http") => 80,
            (None, "https") => 443,
            (None, _) => return Err(bad()),
        };
        Ok(TrackerUrl {
            scheme,
            host,
            port,
            path,
        })
    }

    /// `host:port`, with brackets around an IPv6 host.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The bytes of an HTTP/1.0 GET of `path` (path and query) on `authority`.
pub fn get_request(authority: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: kamaelia-torrent/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Where the head of an HTTP message ends (after the blank line), if it has arrived. Lines
/// may end in CRLF or, as some clients send them, a bare LF (RFC 9112 allows accepting it).
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\n') {
        let i = from + i;
        match buf.get(i + 1) {
            Some(b'\n') => return Some(i + 2),
            Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => return Some(i + 3),
            _ => from = i + 1,
        }
    }
    None
}

/// An HTTP response: status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Parses a complete response (everything read until the server closed, or at least the
/// whole body). `Ok(None)` means more bytes are needed.
pub fn parse_response(buf: &[u8], at_eof: bool) -> Result<Option<Response>, TrackerError> {
    let bad = |r: &str| TrackerError::BadResponse(r.to_string());
    if buf.len() > MAX_MESSAGE {
        return Err(bad("the answer is too large"));
    }
    let Some(end) = head_end(buf) else {
        return if at_eof {
            Err(bad("the connection closed before the end of the HTTP head"))
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("the HTTP head is not text"))?;
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x answer"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let rest = &buf[end..];
    let body =
        if header(head, "Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            match dechunk(rest)? {
                Some(b) => b,
                None if at_eof => return Err(bad("the chunked body ends early")),
                None => return Ok(None),
            }
        } else if let Some(len) = header(head, "Content-Length") {
            let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
            if len > MAX_MESSAGE {
                return Err(bad("the announced body is too large"));
            }
            if rest.len() < len {
                return if at_eof {
                    Err(bad("the body is shorter than its Content-Length"))
                } else {
                    Ok(None)
                };
            }
            rest[..len].to_vec()
        } else if at_eof {
            rest.to_vec()
        } else {
            return Ok(None);
        };
    Ok(Some(Response { status, body }))
}

/// Decodes a chunked body; `Ok(None)` if it is not complete yet.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, TrackerError> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = b.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&b[..line_end])
            .ok()
            .and_then(|l| l.split(';').next())
            .map(str::trim)
            .ok_or_else(|| TrackerError::BadResponse("bad chunk size".into()))?;
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| TrackerError::BadResponse("bad chunk size".into()))?;
        if size > MAX_MESSAGE || out.len() + size > MAX_MESSAGE {
            return Err(TrackerError::BadResponse("chunked body too large".into()));
        }
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if b.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A request as our tracker sees it: the path and the query parameters (decoded, in order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The path without the query, e.g. `/announce`.
    pub path: String,
    /// The query parameters, percent-decoded.
    pub query: Vec<(String, Vec<u8>)>,
}

impl Request {
    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
    /// Every value of parameter `name` (scrape sends several `info_hash`).
    pub fn params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// The largest request head our tracker accepts, its blank line included: a longer one is
/// refused, however it arrives.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Parses the head of a GET request. `Ok(None)` if the head has not all arrived; with the
/// request, where its head ends in `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, String> {
    request_in(buf, 0)
}

/// The request whose head starts `buf`, once it has all arrived, and where the head ends; or
/// why it is refused. Its end is looked for from `from` on (none starts before it), and only
/// in the first [`MAX_REQUEST_HEAD`] bytes: a head that has not ended there is too long,
/// whether or not its end has come too.
fn request_in(buf: &[u8], from: usize) -> Result<Option<(Request, usize)>, String> {
    let allowed = &buf[..buf.len().min(MAX_REQUEST_HEAD)];
    let from = from.min(allowed.len());
    let Some(end) = head_end(&allowed[from..]).map(|end| from + end) else {
        return if buf.len() > MAX_REQUEST_HEAD {
            Err("request head too large".into())
        } else {
            Ok(None)
        };
    };
    Ok(Some((parse_head(&buf[..end])?, end)))
}

/// Parses a whole request head, its blank line included (found by [`head_end`]).
fn parse_head(head: &[u8]) -> Result<Request, String> {
    let head = std::str::from_utf8(head).map_err(|_| "request head is not text")?;
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().ok_or("no request target")?;
    if method != "GET" {
        return Err(format!("method {method} is not supported"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = url_decode(k).ok_or("bad percent-encoding")?;
        let v = url_decode(v).ok_or("bad percent-encoding")?;
        params.push((String::from_utf8_lossy(&k).into_owned(), v));
    }
    Ok(Request {
        path: path.to_string(),
        query: params,
    })
}

/// A request head arriving in pieces: each byte is looked at a bounded number of times
/// however the head is split, so a client sending it a byte at a time costs linear work, not
/// a rescan of everything so far on each byte.
///
/// ```
/// use kamaelia_torrent::tracker::http::RequestHead;
///
/// let mut head = RequestHead::default();
/// assert_eq!(head.push(b"GET /scrape?info_hash=a HTTP/1.0\r\n"), Ok(None));
/// let req = head.push(b"\r\n").unwrap().unwrap();
/// assert_eq!(req.path, "/scrape");
/// ```
#[derive(Clone, Debug, Default)]
pub struct RequestHead {
    /// The bytes so far, up to one past [`MAX_REQUEST_HEAD`] (enough to tell that a head is
    /// too long).
    buf: Vec<u8>,
    /// Bytes looked at for the end of the head (the rest of `buf` has not been).
    scanned: usize,
    /// Bytes looked at in all, at most (for the tests that show the head is scanned once).
    #[cfg(test)]
    work: usize,
}

impl RequestHead {
    /// Adds bytes; the request once its head is complete, or why it is refused (also when the
    /// head is longer than [`MAX_REQUEST_HEAD`]).
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<Request>, String> {
        let wanted = (MAX_REQUEST_HEAD + 1).saturating_sub(self.buf.len());
        self.buf
            .extend_from_slice(&bytes[..bytes.len().min(wanted)]);
        // The end of a head is at most 3 bytes long: start just before what was looked at.
        // Earlier pushes found no end before `from`, so the first one from there is the
        // head's: it is not looked for again from the start.
        let from = self.scanned.saturating_sub(2);
        #[cfg(test)]
        {
            self.work += self.buf.len() - from;
        }
        self.scanned = self.buf.len();
        request_in(&self.buf, from).map(|found| found.map(|(request, _)| request))
    }
}

/// The bytes of an HTTP/1.0 response with a body.
pub fn response(status: u16, reason: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.0 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart() {
        let u = TrackerUrl::parse("http://127.0.0.1:6969/announce?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 6969, "/announce?x=1")
        );
        let u = TrackerUrl::parse("udp://[::1]:1337").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority().as_str()),
            ("::1", 1337, "[::1]:1337")
        );
        assert_eq!(
            TrackerUrl::parse("http://tracker/announce").unwrap().port,
            80
        );
        for bad in [
            "tracker",
            "http://:80/",
            "udp://host/",
            "http://h:99999/",
            "http://[::1/",
        ] {
            assert!(TrackerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses_with_length_chunks_or_close() {
        let r = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", false)
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(chunked, false).unwrap().unwrap().body,
            b"abcde"
        );
        assert_eq!(parse_response(&chunked[..50], false).unwrap(), None);
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\n\r\nto the end", true)
                .unwrap()
                .unwrap()
                .body,
            b"to the end"
        );
        assert!(parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nab", true).is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", true).is_err());
    }

    #[test]
    fn requests_are_parsed_with_their_query() {
        let input = b"GET /announce?info_hash=%01%02&port=1&x HTTP/1.1\r\nHost: a\r\n\r\nrest";
        let (r, end) = parse_request(input).unwrap().unwrap();
        assert_eq!(r.path, "/announce");
        assert_eq!(r.param("info_hash"), Some(&[1u8, 2][..]));
        assert_eq!(r.param("x"), Some(&b""[..]));
        assert_eq!(&input[end..], b"rest");
        assert!(parse_request(b"POST / HTTP/1.0\r\n\r\n").is_err());
        assert_eq!(parse_request(b"GET / HTTP/1.0\r\n").unwrap(), None);
        // A head of bare LFs ends at its blank line too.
        let (r, end) = parse_request(b"GET /scrape?a=1 HTTP/1.0\nHost: a\n\nrest")
            .unwrap()
            .unwrap();
        assert_eq!((r.path.as_str(), end), ("/scrape", 34));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\nHost: a\n\r\n"), Some(26));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\nHost: a\r\n"), None);
    }

    #[test]
    fn a_head_sent_a_byte_at_a_time_is_scanned_once() {
        let mut head = RequestHead::default();
        let text = format!("GET /scrape?{} HTTP/1.0\r\n\r\n", "a".repeat(15_000));
        let (last, bytes) = text.as_bytes().split_last().unwrap();
        for b in bytes {
            assert_eq!(head.push(&[*b]), Ok(None));
        }
        assert_eq!(head.push(&[*last]).unwrap().unwrap().path, "/scrape");
        assert!(head.work <= 3 * text.len(), "{} bytes looked at", head.work);
        let mut head = RequestHead::default();
        assert_eq!(head.push(&vec![b'a'; MAX_REQUEST_HEAD]), Ok(None));
        assert!(head.push(b"a").is_err());
    }

    /// A request head exactly `len` bytes long, its blank line included.
    fn head_of(len: usize) -> Vec<u8> {
        let (start, end) = ("GET /scrape?a=", " HTTP/1.0\r\n\r\n");
        let head = format!("{start}{}{end}", "a".repeat(len - start.len() - end.len()));
        assert_eq!(head.len(), len);
        head.into_bytes()
    }

    /// What a [`RequestHead`] makes of `pieces` pushed in turn: its first answer that is not
    /// "more bytes".
    fn pushed<P: AsRef<[u8]>>(
        pieces: impl IntoIterator<Item = P>,
    ) -> Result<Option<Request>, String> {
        let mut head = RequestHead::default();
        pieces
            .into_iter()
            .map(|p| head.push(p.as_ref()))
            .find(|r| *r != Ok(None))
            .unwrap_or(Ok(None))
    }

    /// `bytes` cut in the ways a client might send them: whole, a byte at a time, in pieces of
    /// other sizes, and in two around the limit (the end arriving with the byte past it).
    fn chunkings(bytes: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut ways: Vec<Vec<&[u8]>> = [bytes.len(), 1, 7, 1_000, 4_096]
            .iter()
            .map(|&n| bytes.chunks(n).collect())
            .collect();
        for at in MAX_REQUEST_HEAD - 4..=(MAX_REQUEST_HEAD + 1).min(bytes.len()) {
            ways.push(vec![&bytes[..at], &bytes[at..]]);
        }
        ways
    }

    #[test]
    fn a_head_longer_than_the_limit_is_refused_however_it_arrives() {
        // The path of what is accepted, rather than all of its long query.
        let path = |r: Result<Option<Request>, String>| r.map(|r| r.map(|r| r.path));
        let refused = Err("request head too large".to_string());
        for len in [
            MAX_REQUEST_HEAD + 1,
            MAX_REQUEST_HEAD + 3,
            MAX_REQUEST_HEAD + 500,
        ] {
            let mut text = head_of(len);
            let whole = parse_request(&text).map(|r| r.map(|(r, _)| r));
            assert_eq!(path(whole), refused, "{len}");
            for pieces in chunkings(&text) {
                let sizes: Vec<usize> = pieces.iter().map(|p| p.len()).take(3).collect();
                assert_eq!(path(pushed(pieces)), refused, "{len} in {sizes:?}...");
            }
            // Bytes after the head change nothing.
            text.extend_from_slice(b"rest");
            let whole = parse_request(&text).map(|r| r.map(|(r, _)| r));
            assert_eq!(path(whole), refused, "{len}");
            assert_eq!(path(pushed([text])), refused, "{len}");
        }
    }

    #[test]
    fn a_head_of_exactly_the_limit_is_accepted_however_it_arrives() {
        let mut text = head_of(MAX_REQUEST_HEAD);
        let (request, end) = parse_request(&text).unwrap().unwrap();
        assert_eq!((request.path.as_str(), end), ("/scrape", MAX_REQUEST_HEAD));
        for pieces in chunkings(&text) {
            let sizes: Vec<usize> = pieces.iter().map(|p| p.len()).take(3).collect();
            assert_eq!(pushed(pieces), Ok(Some(request.clone())), "{sizes:?}");
        }
        // With more bytes behind it, in the same piece.
        text.extend_from_slice(b"rest");
        assert_eq!(parse_request(&text).unwrap().unwrap().1, MAX_REQUEST_HEAD);
        assert_eq!(pushed([text]), Ok(Some(request)));
    }

    #[test]
    fn a_head_in_pieces_parses_as_the_whole_does() {
        let heads: [&[u8]; 7] = [
            b"GET /announce?info_hash=%01%02&port=1&x HTTP/1.1\r\nHost: a\r\n\r\nrest",
            b"GET /scrape?a=1 HTTP/1.0\nHost: a\n\nrest",
            b"GET / HTTP/1.0\r\nHost: a\n\r\n",
            b"GET /?a=%zz HTTP/1.0\r\n\r\n",
            b"POST / HTTP/1.0\r\n\r\n",
            b"GET /a\xff HTTP/1.0\r\n\r\n",
            b"\n\nGET / HTTP/1.0\r\n\r\n",
        ];
        for text in heads {
            let whole = parse_request(text).map(|r| r.map(|(r, _)| r));
            assert!(whole != Ok(None), "{:?}", String::from_utf8_lossy(text));
            // Cut in two at every place, and a byte at a time: the first answer that is not
            // "more bytes" is the whole text's.
            let cuts = (0..=text.len()).map(|at| vec![&text[..at], &text[at..]]);
            let bytes = text.chunks(1).collect::<Vec<_>>();
            for pieces in cuts.chain([bytes]) {
                let got = pushed(&pieces);
                assert_eq!(
                    got,
                    whole,
                    "{:?} in {pieces:?}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }
}
