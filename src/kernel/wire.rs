//! Jupyter messages on the wire (messaging protocol 5.3): the routing
//! identities, the `<IDS|MSG>` delimiter, the HMAC-SHA256 signature and
//! the four JSON parts, then any binary buffers.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The protocol version this kernel speaks.
pub const PROTOCOL_VERSION: &str = "5.3";

const DELIMITER: &[u8] = b"<IDS|MSG>";

/// One message, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// ROUTER identities the reply goes back to.
    pub ids: Vec<Vec<u8>>,
    pub header: Value,
    pub parent: Value,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Vec<u8>>,
}

impl Message {
    /// The header's `msg_type` (empty when missing).
    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }

    /// A new message answering or caused by `parent`, from `session`.
    pub fn child(parent: &Message, session: &str, msg_type: &str, content: Value) -> Message {
        Message {
            ids: parent.ids.clone(),
            header: header(session, msg_type),
            parent: parent.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }

    /// A message with no parent (a client's request).
    pub fn request(session: &str, msg_type: &str, content: Value) -> Message {
        Message {
            ids: Vec::new(),
            header: header(session, msg_type),
            parent: json!({}),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
        }
    }
}

/// A message header: a fresh id, the session, now.
pub fn header(session: &str, msg_type: &str) -> Value {
    json!({
        "msg_id": new_id(),
        "session": session,
        "username": "cnnscript",
        "date": now_iso8601(),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    })
}

/// A random UUID (version 4) as text, for message and session ids.
pub fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The current UTC time as ISO 8601 with microseconds.
pub fn now_iso8601() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    iso8601(now.as_secs(), now.subsec_micros())
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (days to a civil
/// date by Howard Hinnant's algorithm).
fn iso8601(secs: u64, micros: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Signs and checks messages with the connection file's key.
#[derive(Clone)]
pub struct Signer {
    /// `None` when the key is empty: messages are not signed.
    mac: Option<Hmac<Sha256>>,
}

impl Signer {
    /// A signer for `key` (HMAC-SHA256).
    pub fn new(key: &[u8]) -> Signer {
        let mac = if key.is_empty() {
            None
        } else {
            Hmac::<Sha256>::new_from_slice(key).ok()
        };
        Signer { mac }
    }

    fn mac_of(&self, parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
        let mut mac = self.mac.clone()?;
        for p in parts {
            mac.update(p);
        }
        Some(mac)
    }

    /// The hex signature of the four JSON parts ("" without a key).
    pub fn sign(&self, parts: &[&[u8]]) -> String {
        match self.mac_of(parts) {
            Some(mac) => mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            None => String::new(),
        }
    }

    /// Whether `signature` (hex) is right for the parts, compared in
    /// constant time; anything goes without a key.
    pub fn verify(&self, signature: &[u8], parts: &[&[u8]]) -> bool {
        let Some(mac) = self.mac_of(parts) else {
            return true;
        };
        match hex_decode(signature) {
            Some(bytes) => mac.verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

fn hex_decode(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(s, 16).ok()
        })
        .collect()
}

/// Why a message was dropped.
#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    /// No `<IDS|MSG>` delimiter, or fewer than four JSON parts after it.
    Malformed,
    /// The signature does not match the key.
    BadSignature,
    /// A part is not a JSON object.
    BadJson,
}

/// Decode the frames of one message, checking its signature.
pub fn decode(frames: &[&[u8]], signer: &Signer) -> Result<Message, WireError> {
    let at = frames
        .iter()
        .position(|f| *f == DELIMITER)
        .ok_or(WireError::Malformed)?;
    let rest = &frames[at + 1..];
    if rest.len() < 5 {
        return Err(WireError::Malformed);
    }
    if !signer.verify(rest[0], &rest[1..5]) {
        return Err(WireError::BadSignature);
    }
    let part = |i: usize| -> Result<Value, WireError> {
        match serde_json::from_slice::<Value>(rest[i]) {
            Ok(v) if v.is_object() => Ok(v),
            _ => Err(WireError::BadJson),
        }
    };
    Ok(Message {
        ids: frames[..at].iter().map(|f| f.to_vec()).collect(),
        header: part(1)?,
        parent: part(2)?,
        metadata: part(3)?,
        content: part(4)?,
        buffers: rest[5..].iter().map(|f| f.to_vec()).collect(),
    })
}

/// Encode a message as frames, signed.
pub fn encode(msg: &Message, signer: &Signer) -> Vec<Vec<u8>> {
    let parts: [Vec<u8>; 4] = [
        msg.header.to_string().into_bytes(),
        msg.parent.to_string().into_bytes(),
        msg.metadata.to_string().into_bytes(),
        msg.content.to_string().into_bytes(),
    ];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let signature = signer.sign(&refs);
    let mut frames = msg.ids.clone();
    frames.push(DELIMITER.to_vec());
    frames.push(signature.into_bytes());
    frames.extend(parts);
    frames.extend(msg.buffers.iter().cloned());
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29 12:34:56 UTC, a leap day
        assert_eq!(iso8601(1_709_210_096, 7), "2024-02-29T12:34:56.000007Z");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn ids_are_uuid4() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_id());
    }

    #[test]
    fn signature_is_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let s = Signer::new(b"Jefe");
        let sig = s.sign(&[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            sig,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(s.verify(sig.as_bytes(), &[b"what do ya want for nothing?"]));
        assert!(!s.verify(sig.as_bytes(), &[b"what do ya want for nothing!"]));
        assert!(!s.verify(b"zz", &[b"x"]));
    }

    #[test]
    fn round_trip_and_tampering() {
        let signer = Signer::new(b"secret");
        let mut msg = Message::request("s1", "execute_request", json!({"code": "print 1"}));
        msg.ids = vec![b"peer".to_vec()];
        let frames = encode(&msg, &signer);
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        assert_eq!(decode(&refs, &signer), Ok(msg));
        let mut bad = frames.clone();
        bad[6] = br#"{"code": "print 2"}"#.to_vec();
        let refs: Vec<&[u8]> = bad.iter().map(Vec::as_slice).collect();
        assert_eq!(decode(&refs, &signer), Err(WireError::BadSignature));
        assert_eq!(decode(&refs[..4], &signer), Err(WireError::Malformed));
    }
}
