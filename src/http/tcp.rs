//! The TCP layer under ureq, ours for four reasons ureq's own has no setting for:
//! - **One deadline at any pace.** Every send and receive is bounded by the request's one
//!   deadline, a fixed instant: a call that returns early after some progress loops against
//!   it, never restarting a timeout, so a peer that reads a few bytes a second cannot hold
//!   a request past its timeout (ureq's writes its buffer with a socket timeout set once,
//!   which each bit of progress renews).
//! - **A small request in one write.** The head is held back until the body follows (then
//!   both go in one `writev`) or a read begins (then it goes alone); larger output is sent
//!   from ureq's buffer as it comes.
//! - **One probe for unread bytes**: `recv(MSG_PEEK | MSG_DONTWAIT)` where ureq toggles the
//!   socket to non-blocking and back around a read; a connection with anything unread is
//!   still never reused.
//! - **No `setsockopt` when the timeout hardly changed**: the socket's timeout is set only
//!   when it would let a call outlast the deadline by more than [`SLACK`], or is far shorter
//!   than what remains (which would only cost wake-ups).
//!
//! Connecting tries each resolved address in turn within the connect timeout, and when all
//! of them fail the host's cached addresses are forgotten ([`AddressCache::forget`]), so a
//! moved endpoint is found again at once. rustls and the CONNECT proxy chain on top of this
//! unchanged.

use super::resolver::AddressCache;
use std::io::{self, IoSlice, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport,
};
use ureq::Timeout;
use zeroize::Zeroize;

/// How far past the deadline a blocked call may run before it returns and the deadline is
/// seen: the socket's timeout is left alone within this.
const SLACK: Duration = Duration::from_millis(50);
/// Output up to this size is held back for the write that follows (a request head, a small
/// body); more is sent at once, from ureq's buffer.
const HOLD_MAX: usize = 64 * 1024;
/// The least time each address of a host gets to connect.
const MIN_PER_ADDRESS: Duration = Duration::from_millis(10);

/// Opens the TCP connections of an agent.
#[derive(Debug)]
pub(crate) struct TcpConnector {
    addresses: Arc<AddressCache>,
}

impl TcpConnector {
    pub(crate) fn new(addresses: Arc<AddressCache>) -> TcpConnector {
        TcpConnector { addresses }
    }
}

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // A transport from earlier in the chain (none in ours) is used as it is.
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let deadline = deadline(details.timeout);
        let stream = match connect(&details.addrs, deadline, details.timeout.reason) {
            Ok(stream) => stream,
            Err(e) => {
                if let (Some(host), Some(port)) =
                    (details.uri.host(), super::resolver::port(details.uri))
                {
                    self.addresses.forget(host, port);
                }
                return Err(e);
            }
        };
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let config = details.config;
        let transport = TcpTransport {
            socket: Socket {
                stream: Arc::new(stream),
                read_timeout: None,
                write_timeout: None,
            },
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            held: Vec::new(),
        };
        (details.register_shutdown)(transport.shutdown_handle())?;
        Ok(Some(Either::B(transport)))
    }
}

/// The instant a `NextTimeout` ends at, seen from now; `None` when it never does.
fn deadline(timeout: NextTimeout) -> Option<Instant> {
    match timeout.after {
        UreqDuration::Exact(after) => Some(Instant::now() + after),
        UreqDuration::NotHappening => None,
    }
}

/// Connects to each address in turn, each getting an equal share of the time left (at least
/// [`MIN_PER_ADDRESS`]); an address refused or unreachable, or out of its share, gives way
/// to the next while the deadline allows. The last failure is reported.
fn connect(
    addrs: &[SocketAddr],
    deadline: Option<Instant>,
    reason: Timeout,
) -> Result<TcpStream, ureq::Error> {
    let mut last = None;
    for (at, addr) in addrs.iter().enumerate() {
        let share = deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            (left / (addrs.len() - at) as u32).max(MIN_PER_ADDRESS)
        });
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ureq::Error::Timeout(reason));
        }
        let attempt = match share {
            Some(share) => TcpStream::connect_timeout(addr, share),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e)
                if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock =>
            {
                last = Some(ureq::Error::Timeout(Timeout::Connect));
            }
            Err(e) if next_address_may_work(&e) => last = Some(ureq::Error::Io(e)),
            Err(e) => return Err(ureq::Error::Io(e)),
        }
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(ureq::Error::Timeout(reason));
    }
    Err(last.unwrap_or_else(|| {
        ureq::Error::Io(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "the host has no address to connect to",
        ))
    }))
}

/// Failures that concern only the address tried: another address of the host may answer.
fn next_address_may_work(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable
    )
}

/// One TCP connection, for ureq.
pub(crate) struct TcpTransport {
    socket: Socket,
    buffers: LazyBuffers,
    /// Output held back for the write that follows; wiped once sent or dropped, since a
    /// request head may carry the STS token.
    held: Vec<u8>,
}

/// The socket and its timeouts as last set (`None`: none).
struct Socket {
    /// Shared (weakly) with the agent's shutdown handle, which may shut it down mid-call.
    stream: Arc<TcpStream>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("peer", &self.socket.stream.peer_addr().ok())
            .finish_non_exhaustive()
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.held.zeroize();
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl TcpTransport {
    fn shutdown_handle(&self) -> Weak<dyn ShutdownHandle> {
        Arc::downgrade(&self.socket.stream) as Weak<dyn ShutdownHandle>
    }

    /// Sends what is held back.
    fn flush_held(
        &mut self,
        deadline: Option<Instant>,
        reason: Timeout,
    ) -> Result<(), ureq::Error> {
        if self.held.is_empty() {
            return Ok(());
        }
        let result = self.socket.send(&self.held, &[], deadline, reason);
        // The buffer's memory is kept for the next request, wiped.
        self.held.zeroize();
        result
    }
}

impl Socket {
    /// Bounds the next blocking call on the socket by `deadline` (see [`SLACK`]); an error
    /// when it has passed.
    fn bound(
        &mut self,
        direction: Direction,
        deadline: Option<Instant>,
        reason: Timeout,
    ) -> Result<(), ureq::Error> {
        let wanted = match deadline {
            None => None,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(reason));
                }
                Some(left)
            }
        };
        let current = match direction {
            Direction::Read => &mut self.read_timeout,
            Direction::Write => &mut self.write_timeout,
        };
        let fits = match (*current, wanted) {
            (None, None) => true,
            (Some(set), Some(left)) => set <= left + SLACK && set >= left / 2,
            _ => false,
        };
        if !fits {
            match direction {
                Direction::Read => self.stream.set_read_timeout(wanted)?,
                Direction::Write => self.stream.set_write_timeout(wanted)?,
            }
            *current = wanted;
        }
        Ok(())
    }

    /// Sends `first` then `second` whole (one `writev` when the socket takes them), each
    /// blocking call bounded by the deadline.
    fn send(
        &mut self,
        mut first: &[u8],
        mut second: &[u8],
        deadline: Option<Instant>,
        reason: Timeout,
    ) -> Result<(), ureq::Error> {
        while !first.is_empty() || !second.is_empty() {
            self.bound(Direction::Write, deadline, reason)?;
            let parts = [IoSlice::new(first), IoSlice::new(second)];
            match (&*self.stream).write_vectored(&parts) {
                Ok(0) => return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(mut sent) => {
                    let from_first = sent.min(first.len());
                    first = &first[from_first..];
                    sent -= from_first;
                    second = &second[sent..];
                }
                Err(e) if waited(&e) => {}
                Err(e) => return Err(ureq::Error::Io(e)),
            }
        }
        Ok(())
    }
}

/// Whether a socket call returned without doing anything for a reason that calls for
/// another try: its timeout (the deadline is checked again) or a signal.
fn waited(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        let output = &self.buffers.output()[..amount];
        if self.held.is_empty() && amount <= HOLD_MAX {
            self.held.extend_from_slice(output);
            return Ok(());
        }
        let result = self
            .socket
            .send(&self.held, output, deadline(timeout), timeout.reason);
        self.held.zeroize();
        result
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        let (deadline, reason) = (deadline(timeout), timeout.reason);
        self.flush_held(deadline, reason)?;
        loop {
            self.socket.bound(Direction::Read, deadline, reason)?;
            let input = self.buffers.input_append_buf();
            match io::Read::read(&mut &*self.socket.stream, input) {
                Ok(amount) => {
                    self.buffers.input_appended(amount);
                    return Ok(amount > 0);
                }
                Err(e) if waited(&e) => {}
                Err(e) => return Err(ureq::Error::Io(e)),
            }
        }
    }

    fn is_open(&mut self) -> bool {
        // Held output would be half a request: such a connection is not reused.
        self.held.is_empty() && nothing_unread(&self.socket.stream)
    }
}

/// Whether the peer has sent nothing unread and not closed: one `recv` that peeks without
/// blocking.
#[cfg(unix)]
fn nothing_unread(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: a valid socket and a one-byte buffer that outlives the call.
    let got = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    got < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

/// Whether the peer has sent nothing unread and not closed, where `MSG_DONTWAIT` is not to
/// be had: a peek with the socket non-blocking for the while.
#[cfg(not(unix))]
fn nothing_unread(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let quiet = matches!(stream.peek(&mut [0u8]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && quiet
}
