//! The web tasks' TCP sockets: embassy-net sockets whose `flush` does not
//! hold a response's body back until the client has acknowledged its head.
//!
//! picoserve flushes a response's head before it writes the body, and
//! embassy-net's `flush` returns only when the client has acknowledged every
//! byte. So every response (a frame ack, a status reply, a 101 Upgrade)
//! waited a round trip plus the client's delayed ACK: up to 40 ms from
//! Linux, about 10 ms from QEMU's user network, and on QEMU with `-icount`
//! (whose user network times its ACKs on the guest's virtual clock, which
//! stands still while the guest sleeps) until the guest's next timer, often
//! after picoserve's 1 s write timeout had ended the connection.
//!
//! Here `flush` hands the bytes to the stack and returns, and Nagle's
//! algorithm is off, so a body goes out right behind its head. What the
//! ACK wait also did, noticing a client that has gone without a word, the
//! stack now does itself: a keep-alive probe after [`KEEP_ALIVE`] of
//! silence, and the connection dropped after [`TIMEOUT`] without a packet
//! from the client while it owes one (an SSE stream's slot is freed, as
//! picoserve's 1 s write timeout freed it before). A client that stops
//! reading still fills the transmit buffer, and picoserve's write timeout
//! ends its stream. An abort sends what was written first (a refusal such
//! as picoserve's 400 reaches the client), and closing waits for every
//! byte (picoserve's shutdown on the embassy-net socket).

use core::future::Future;

use embassy_net::Stack;
use embassy_net::tcp::{AcceptError, Error, TcpReader, TcpSocket, TcpWriter};
use embassy_time::Duration;
use picoserve::io::embedded_io_async;
use picoserve::io::{ErrorType, Socket};
use picoserve::mem::BorrowedCursor;
use picoserve::{EmbassyRuntime, Timeouts, Timer};

/// Silence after which an idle connection is probed (smoltcp keep-alive).
const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// Silence from the client, while it owes a packet (an ACK of data sent,
/// an answer to a keep-alive probe), after which the connection is dropped.
/// Longer than [`KEEP_ALIVE`], which an idle client answers at once.
const TIMEOUT: Duration = Duration::from_secs(3);

/// A TCP socket whose writes go out at once.
pub(crate) struct Prompt<'s>(TcpSocket<'s>);

impl<'s> Prompt<'s> {
    /// A socket on `stack` with the given receive and transmit buffers,
    /// Nagle off, keep-alive [`KEEP_ALIVE`] and timeout [`TIMEOUT`] (set
    /// before `accept`, so they also bound a handshake left half done).
    pub(crate) fn new(stack: Stack<'s>, rx: &'s mut [u8], tx: &'s mut [u8]) -> Self {
        let mut socket = TcpSocket::new(stack, rx, tx);
        socket.set_nagle_enabled(false);
        socket.set_keep_alive(Some(KEEP_ALIVE));
        socket.set_timeout(Some(TIMEOUT));
        Self(socket)
    }

    /// Listens on `port` and waits for a connection; the socket is in
    /// LISTEN from the future's first poll.
    ///
    /// # Errors
    /// The socket is not closed, or the port is 0.
    pub(crate) fn accept(&mut self, port: u16) -> impl Future<Output = Result<(), AcceptError>> + '_ {
        self.0.accept(port)
    }
}

/// The write half of a [`Prompt`] socket.
pub(crate) struct PromptWriter<'a>(TcpWriter<'a>);

impl ErrorType for PromptWriter<'_> {
    type Error = Error;
}

impl embedded_io_async::Write for PromptWriter<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.0.write(buf).await
    }

    /// Returns at once: what was written is in the stack's transmit buffer,
    /// which the stack sends on its next poll (Nagle is off). A full buffer
    /// still holds back the next write.
    async fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

impl picoserve::io::Write for PromptWriter<'_> {
    async fn write_with<F: FnOnce(BorrowedCursor<'_>) -> R, R>(&mut self, f: F) -> Result<R, Error> {
        picoserve::io::Write::write_with(&mut self.0, f).await
    }
}

impl<'s> Socket<EmbassyRuntime> for Prompt<'s> {
    type Error = Error;
    type ReadHalf<'a>
        = TcpReader<'a>
    where
        's: 'a;
    type WriteHalf<'a>
        = PromptWriter<'a>
    where
        's: 'a;

    fn split(&mut self) -> (TcpReader<'_>, PromptWriter<'_>) {
        let (rx, tx) = self.0.split();
        (rx, PromptWriter(tx))
    }

    /// Sends what was written (within the write timeout), then aborts: the
    /// abort (a RST) would otherwise discard a refusal picoserve has just
    /// written.
    async fn abort<T: Timer<EmbassyRuntime>>(
        mut self,
        timeouts: &Timeouts,
        timer: &T,
    ) -> Result<(), picoserve::Error<Error>> {
        // A client that does not acknowledge in time is reset all the same.
        let _ = timer.run_with_timeout(timeouts.write, self.0.flush()).await;
        <TcpSocket<'s> as Socket<EmbassyRuntime>>::abort(self.0, timeouts, timer).await
    }

    async fn shutdown<T: Timer<EmbassyRuntime>>(
        self,
        timeouts: &Timeouts,
        timer: &T,
    ) -> Result<(), picoserve::Error<Error>> {
        <TcpSocket<'s> as Socket<EmbassyRuntime>>::shutdown(self.0, timeouts, timer).await
    }
}
