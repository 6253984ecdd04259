//! The connection file Jupyter starts a kernel with: where to listen and
//! the key that signs messages.

use std::path::Path;

use serde_json::Value;

/// What a connection file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    pub key: String,
}

impl Connection {
    /// Read and check a connection file.
    pub fn read(path: &Path) -> Result<Connection, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the connection file {}: {e}", path.display()))?;
        Connection::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parse a connection file's JSON.
    pub fn parse(text: &str) -> Result<Connection, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("not a connection file: {e}"))?;
        let transport = v["transport"].as_str().unwrap_or("tcp");
        if transport != "tcp" {
            return Err(format!(
                "transport `{transport}` is not supported; this kernel listens on tcp"
            ));
        }
        let scheme = v["signature_scheme"].as_str().unwrap_or("hmac-sha256");
        if scheme != "hmac-sha256" {
            return Err(format!(
                "signature scheme `{scheme}` is not supported; use hmac-sha256"
            ));
        }
        let port = |name: &str| -> Result<u16, String> {
            v[name]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("`{name}` is missing or not a port number"))
        };
        Ok(Connection {
            ip: v["ip"].as_str().unwrap_or("127.0.0.1").to_string(),
            shell_port: port("shell_port")?,
            iopub_port: port("iopub_port")?,
            stdin_port: port("stdin_port")?,
            control_port: port("control_port")?,
            hb_port: port("hb_port")?,
            key: v["key"].as_str().unwrap_or("").to_string(),
        })
    }

    /// `tcp://IP:PORT`
    pub fn endpoint(&self, port: u16) -> String {
        format!("tcp://{}:{port}", self.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jupyters_file() {
        let c = Connection::parse(
            r#"{"shell_port": 5001, "iopub_port": 5002, "stdin_port": 5003,
                "control_port": 5004, "hb_port": 5005, "ip": "127.0.0.1",
                "key": "k", "transport": "tcp", "signature_scheme": "hmac-sha256",
                "kernel_name": "cnnscript"}"#,
        )
        .expect("parses");
        assert_eq!(c.endpoint(c.hb_port), "tcp://127.0.0.1:5005");
        assert_eq!(c.key, "k");
    }

    #[test]
    fn says_what_is_wrong() {
        let e = Connection::parse(r#"{"transport": "ipc"}"#).unwrap_err();
        assert!(e.contains("ipc"), "{e}");
        let e = Connection::parse(r#"{"shell_port": 70000}"#).unwrap_err();
        assert!(e.contains("shell_port"), "{e}");
        assert!(Connection::parse("nope").is_err());
    }
}
