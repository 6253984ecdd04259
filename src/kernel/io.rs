//! The kernel's sockets, on a single-threaded tokio runtime of their own:
//! shell requests go to the executor thread in order; control requests
//! (interrupt, shutdown, kernel info) are answered here at once, also
//! while a cell runs; the heartbeat echoes; everything the executor sends
//! goes out through one writer task, in order.

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use zeromq::{
    PubSocket, RepSocket, RouterRecvHalf, RouterSendHalf, RouterSocket, Socket, SocketRecv,
    SocketSend, ZmqMessage,
};

use super::connection::Connection;
use super::info::kernel_info;
use super::wire::{decode, encode, Message, Signer};

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Shell,
    Control,
    IoPub,
}

/// What the writer task is told.
enum Outgoing {
    Send(Channel, Message),
    /// Send what is queued, then end the process.
    Exit,
}

/// The executor's (and the control task's) way out: builds replies and
/// published messages and hands them to the writer task.
#[derive(Clone)]
pub struct Outbox {
    tx: UnboundedSender<Outgoing>,
    session: Arc<str>,
}

impl Outbox {
    /// A reply to `parent` on its channel.
    pub fn reply(&self, channel: Channel, parent: &Message, msg_type: &str, content: Value) {
        let msg = Message::child(parent, &self.session, msg_type, content);
        let _ = self.tx.send(Outgoing::Send(channel, msg));
    }

    /// A message on IOPub caused by `parent` (its topic is the type).
    pub fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        let mut msg = Message::child(parent, &self.session, msg_type, content);
        msg.ids = vec![msg_type.as_bytes().to_vec()];
        let _ = self.tx.send(Outgoing::Send(Channel::IoPub, msg));
    }

    /// `status` busy or idle.
    pub fn status(&self, parent: &Message, state: &str) {
        self.publish(parent, "status", json!({ "execution_state": state }));
    }

    /// Send what is queued, then end the kernel.
    pub fn exit(&self) {
        let _ = self.tx.send(Outgoing::Exit);
    }
}

/// Start the sockets on a thread of their own. Shell requests arrive on
/// `jobs`; returns once every socket is bound, or why one could not be.
pub fn start(conn: Connection, jobs: Sender<Message>) -> Result<Outbox, String> {
    let (tx, rx) = unbounded_channel();
    let outbox = Outbox {
        tx,
        session: Arc::from(super::wire::new_id()),
    };
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let control_outbox = outbox.clone();
    std::thread::Builder::new()
        .name("kernel-io".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("cannot start the socket runtime: {e}")));
                    return;
                }
            };
            runtime.block_on(serve(conn, jobs, rx, control_outbox, ready_tx));
        })
        .map_err(|e| format!("cannot start the socket thread: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(outbox),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the socket thread stopped".into()),
    }
}

async fn bind<S: Socket>(socket: &mut S, conn: &Connection, port: u16) -> Result<(), String> {
    let endpoint = conn.endpoint(port);
    socket
        .bind(&endpoint)
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot listen on {endpoint}: {e}"))
}

async fn serve(
    conn: Connection,
    jobs: Sender<Message>,
    rx: UnboundedReceiver<Outgoing>,
    outbox: Outbox,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let signer = Signer::new(conn.key.as_bytes());
    let mut shell = RouterSocket::new();
    let mut control = RouterSocket::new();
    let mut stdin = RouterSocket::new();
    let mut iopub = PubSocket::new();
    let mut hb = RepSocket::new();
    let bound = async {
        bind(&mut shell, &conn, conn.shell_port).await?;
        bind(&mut control, &conn, conn.control_port).await?;
        bind(&mut stdin, &conn, conn.stdin_port).await?;
        bind(&mut iopub, &conn, conn.iopub_port).await?;
        bind(&mut hb, &conn, conn.hb_port).await
    }
    .await;
    let failed = bound.is_err();
    let _ = ready.send(bound);
    if failed {
        return;
    }
    let (shell_tx, shell_rx) = shell.split();
    let (control_tx, control_rx) = control.split();
    tokio::spawn(heartbeat(hb));
    tokio::spawn(read_shell(shell_rx, signer.clone(), jobs));
    tokio::spawn(read_control(control_rx, signer.clone(), outbox));
    #[cfg(unix)]
    tokio::spawn(interrupt_on_sigint());
    write_all(rx, signer, shell_tx, control_tx, iopub).await;
    drop(stdin);
}

/// Turn frames into a message, or say on stderr why not.
fn decoded(frames: ZmqMessage, signer: &Signer, socket: &str) -> Option<Message> {
    let frames: Vec<&[u8]> = frames.iter().map(|b| b.as_ref()).collect();
    match decode(&frames, signer) {
        Ok(msg) => Some(msg),
        Err(e) => {
            eprintln!("cnnscript kernel: dropped a message on {socket}: {e:?}");
            None
        }
    }
}

fn frames_of(msg: &Message, signer: &Signer) -> Option<ZmqMessage> {
    let frames: Vec<bytes::Bytes> = encode(msg, signer)
        .into_iter()
        .map(bytes::Bytes::from)
        .collect();
    ZmqMessage::try_from(frames).ok()
}

async fn heartbeat(mut hb: RepSocket) {
    while let Ok(ping) = hb.recv().await {
        if hb.send(ping).await.is_err() {
            break;
        }
    }
}

async fn read_shell(mut shell: RouterRecvHalf, signer: Signer, jobs: Sender<Message>) {
    while let Ok(frames) = shell.recv().await {
        if let Some(msg) = decoded(frames, &signer, "shell") {
            if jobs.send(msg).is_err() {
                break;
            }
        }
    }
}

/// Control requests are answered here, so that interrupt and shutdown
/// work while a cell runs.
async fn read_control(mut control: RouterRecvHalf, signer: Signer, outbox: Outbox) {
    while let Ok(frames) = control.recv().await {
        let Some(msg) = decoded(frames, &signer, "control") else {
            continue;
        };
        outbox.status(&msg, "busy");
        match msg.msg_type() {
            "kernel_info_request" => {
                outbox.reply(Channel::Control, &msg, "kernel_info_reply", kernel_info());
            }
            "interrupt_request" => {
                crate::interrupt::request();
                outbox.reply(
                    Channel::Control,
                    &msg,
                    "interrupt_reply",
                    json!({"status": "ok"}),
                );
            }
            "shutdown_request" => {
                crate::interrupt::request();
                let restart = msg.content["restart"].as_bool().unwrap_or(false);
                outbox.reply(
                    Channel::Control,
                    &msg,
                    "shutdown_reply",
                    json!({"status": "ok", "restart": restart}),
                );
                outbox.status(&msg, "idle");
                outbox.exit();
                continue;
            }
            other => eprintln!("cnnscript kernel: no answer to `{other}` on control"),
        }
        outbox.status(&msg, "idle");
    }
}

/// Jupyter interrupts a kernel with SIGINT unless told otherwise.
#[cfg(unix)]
async fn interrupt_on_sigint() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut sigint) = signal(SignalKind::interrupt()) else {
        eprintln!("cnnscript kernel: cannot catch SIGINT; interrupt with interrupt_request");
        return;
    };
    while sigint.recv().await.is_some() {
        crate::interrupt::request();
    }
}

async fn write_all(
    mut rx: UnboundedReceiver<Outgoing>,
    signer: Signer,
    mut shell: RouterSendHalf,
    mut control: RouterSendHalf,
    mut iopub: PubSocket,
) {
    while let Some(out) = rx.recv().await {
        let (channel, msg) = match out {
            Outgoing::Send(channel, msg) => (channel, msg),
            Outgoing::Exit => {
                // let the per-peer writers flush the last replies
                tokio::time::sleep(Duration::from_millis(100)).await;
                std::process::exit(0);
            }
        };
        let Some(frames) = frames_of(&msg, &signer) else {
            continue;
        };
        let sent = match channel {
            Channel::Shell => shell.send(frames).await,
            Channel::Control => control.send(frames).await,
            Channel::IoPub => iopub.send(frames).await,
        };
        if let Err(e) = sent {
            // a client that went away; the others are still served
            eprintln!("cnnscript kernel: cannot send {}: {e}", msg.msg_type());
        }
    }
}
