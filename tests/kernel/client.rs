//! A Jupyter client in Rust for the tests: it starts `cnnscript kernel`
//! with a connection file of free loopback ports and talks to it over
//! ZeroMQ as Jupyter does (DEALER on shell and control, SUB on IOPub, REQ
//! on the heartbeat), signing with the file's key.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cnnscript::kernel::wire::{decode, encode, new_id, Message, Signer};
use serde_json::{json, Value};
use tokio::runtime::Runtime;
use zeromq::{DealerSocket, ReqSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

const BIN: &str = env!("CARGO_BIN_EXE_cnnscript");
/// Long enough for a loaded 2-core machine; a hung kernel fails the test.
const WAIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chan {
    Shell,
    Control,
}

pub struct Client {
    rt: Runtime,
    shell: DealerSocket,
    control: DealerSocket,
    iopub: SubSocket,
    hb: ReqSocket,
    signer: Signer,
    session: String,
    pub child: Child,
    _dir: tempfile::TempDir,
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("an address").port())
        .collect()
}

impl Client {
    /// Start a kernel in `cwd` and wait until it answers on shell and IOPub.
    pub fn start_in(cwd: &Path) -> Client {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let p = free_ports(5);
        let key = new_id();
        let conn = json!({
            "shell_port": p[0], "iopub_port": p[1], "stdin_port": p[2],
            "control_port": p[3], "hb_port": p[4], "ip": "127.0.0.1",
            "key": key, "transport": "tcp", "signature_scheme": "hmac-sha256",
            "kernel_name": "cnnscript",
        });
        let file = dir.path().join("kernel.json");
        std::fs::write(&file, conn.to_string()).expect("writes the connection file");
        let child = Command::new(BIN)
            .args(["kernel", "-f"])
            .arg(&file)
            .current_dir(cwd)
            .spawn()
            .expect("the kernel starts");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let endpoint = |port: u16| format!("tcp://127.0.0.1:{port}");
        let (shell, control, iopub, hb) = rt.block_on(async {
            let mut shell = DealerSocket::new();
            let mut control = DealerSocket::new();
            let mut iopub = SubSocket::new();
            let mut hb = ReqSocket::new();
            retry_connect(&mut shell, &endpoint(p[0])).await;
            retry_connect(&mut control, &endpoint(p[3])).await;
            iopub.subscribe("").await.expect("subscribes");
            retry_connect(&mut iopub, &endpoint(p[1])).await;
            retry_connect(&mut hb, &endpoint(p[4])).await;
            (shell, control, iopub, hb)
        });
        let mut client = Client {
            rt,
            shell,
            control,
            iopub,
            hb,
            signer: Signer::new(key.as_bytes()),
            session: new_id(),
            child,
            _dir: dir,
        };
        client.wait_ready();
        client
    }

    pub fn start() -> Client {
        Client::start_in(Path::new("."))
    }

    /// As jupyter_client does: ask for kernel info until the reply comes and
    /// IOPub has carried a message (a SUB socket misses what is published
    /// before it is connected).
    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < WAIT, "the kernel never became ready");
            let id = self.send(Chan::Shell, "kernel_info_request", json!({}));
            let Some(reply) = self.recv_within(Chan::Shell, Duration::from_secs(1)) else {
                continue;
            };
            assert_eq!(reply.parent["msg_id"], json!(id));
            if self.iopub_within(Duration::from_millis(300)).is_some() {
                // drain what is left of the handshake
                while self.iopub_within(Duration::from_millis(200)).is_some() {}
                return;
            }
        }
    }

    /// Send a request; its msg_id.
    pub fn send(&mut self, chan: Chan, msg_type: &str, content: Value) -> String {
        let msg = Message::request(&self.session, msg_type, content);
        let id = msg.header["msg_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let frames: Vec<Bytes> = encode(&msg, &self.signer)
            .into_iter()
            .map(Bytes::from)
            .collect();
        let frames = ZmqMessage::try_from(frames).expect("frames");
        let socket = match chan {
            Chan::Shell => &mut self.shell,
            Chan::Control => &mut self.control,
        };
        self.rt.block_on(socket.send(frames)).expect("sends");
        id
    }

    fn recv_within(&mut self, chan: Chan, wait: Duration) -> Option<Message> {
        let socket = match chan {
            Chan::Shell => &mut self.shell,
            Chan::Control => &mut self.control,
        };
        let frames = self
            .rt
            .block_on(async { tokio::time::timeout(wait, socket.recv()).await })
            .ok()?
            .expect("receives");
        Some(self.decoded(frames))
    }

    fn decoded(&self, frames: ZmqMessage) -> Message {
        let frames: Vec<&[u8]> = frames.iter().map(|b| b.as_ref()).collect();
        decode(&frames, &self.signer).expect("a well-signed message")
    }

    /// The next reply on `chan`.
    pub fn recv(&mut self, chan: Chan) -> Message {
        self.recv_within(chan, WAIT).expect("a reply in time")
    }

    fn iopub_within(&mut self, wait: Duration) -> Option<Message> {
        let iopub = &mut self.iopub;
        let frames = self
            .rt
            .block_on(async { tokio::time::timeout(wait, iopub.recv()).await })
            .ok()?
            .expect("receives");
        Some(self.decoded(frames))
    }

    /// The next IOPub message caused by request `parent`.
    pub fn iopub_of(&mut self, parent: &str) -> Message {
        loop {
            let msg = self.iopub_within(WAIT).expect("an IOPub message in time");
            if msg.parent["msg_id"] == json!(parent) {
                return msg;
            }
        }
    }

    /// IOPub messages of request `parent` up to its `idle` status (included).
    pub fn iopub_until_idle(&mut self, parent: &str) -> Vec<Message> {
        let mut out = Vec::new();
        loop {
            let msg = self.iopub_of(parent);
            let idle = msg.msg_type() == "status" && msg.content["execution_state"] == "idle";
            out.push(msg);
            if idle {
                return out;
            }
        }
    }

    /// Run a cell: its execute_reply and its IOPub messages.
    pub fn execute(&mut self, code: &str) -> (Message, Vec<Message>) {
        let id = self.send(
            Chan::Shell,
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true,
                   "user_expressions": {}, "allow_stdin": false, "stop_on_error": true}),
        );
        let published = self.iopub_until_idle(&id);
        let reply = self.recv(Chan::Shell);
        assert_eq!(reply.parent["msg_id"], json!(id));
        (reply, published)
    }

    /// A shell request and its reply's content.
    pub fn ask(&mut self, msg_type: &str, content: Value) -> Value {
        let id = self.send(Chan::Shell, msg_type, content);
        let reply = self.recv(Chan::Shell);
        assert_eq!(reply.parent["msg_id"], json!(id));
        self.iopub_until_idle(&id);
        reply.content
    }

    /// Ping the heartbeat; what came back.
    pub fn heartbeat(&mut self, ping: &[u8]) -> Vec<u8> {
        let hb = &mut self.hb;
        let ping = ZmqMessage::from(ping.to_vec());
        self.rt
            .block_on(async {
                hb.send(ping).await?;
                tokio::time::timeout(WAIT, hb.recv())
                    .await
                    .map_err(|_| zeromq::ZmqError::NoMessage)?
            })
            .map(|m| m.get(0).map(|b| b.to_vec()).unwrap_or_default())
            .expect("an echo")
    }

    /// Wait for the kernel process to end; its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the kernel's status") {
                return status;
            }
            assert!(start.elapsed() < WAIT, "the kernel did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn retry_connect<S: Socket>(socket: &mut S, endpoint: &str) {
    let start = Instant::now();
    while let Err(e) = socket.connect(endpoint).await {
        assert!(start.elapsed() < WAIT, "cannot connect to {endpoint}: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of every `stream` message on `name`, joined.
pub fn stream(published: &[Message], name: &str) -> String {
    published
        .iter()
        .filter(|m| m.msg_type() == "stream" && m.content["name"] == name)
        .filter_map(|m| m.content["text"].as_str())
        .collect()
}

/// The messages of one type.
pub fn of_type<'a>(published: &'a [Message], msg_type: &str) -> Vec<&'a Message> {
    published
        .iter()
        .filter(|m| m.msg_type() == msg_type)
        .collect()
}
