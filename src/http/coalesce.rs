//! Under TLS, whole output buffers to the socket, not a TLS record or two a system call.
//! rustls hands ureq's adapter each record (16 KiB of body) as a write of its own, which
//! the TCP layer ([`super::tcp`]) sends with the one before it: 32 `writev`s per MiB of body,
//! every other record copied aside and wiped. This link of the connector chain, between the
//! TCP layer and TLS, leaves the records in the TCP layer's output buffer and hands them
//! down when it is nearly full or before anything is read (in HTTP/1.1 and in the handshake
//! every write is followed by a read, so nothing waits long). Input is passed up through a
//! buffer of its own (the answers are small), as [`Buffers::input`] borrows the transport
//! only to read. Plain HTTP is not wrapped: its body already goes down in whole buffers.

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
};

/// Sent once less than this is free: a TLS record (16 KiB and its overhead) still fits.
const ROOM: usize = 17 * 1024 + 512;

#[derive(Debug, Default)]
pub(crate) struct Coalescing;

impl<In: Transport> Connector<In> for Coalescing {
    type Out = Either<In, Coalesced<In>>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| {
            if details.needs_tls() && !inner.is_tls() {
                let input = LazyBuffers::new(details.config.input_buffer_size(), 1);
                Either::B(Coalesced {
                    inner,
                    pending: 0,
                    input,
                })
            } else {
                Either::A(inner)
            }
        }))
    }
}

#[derive(Debug)]
pub(crate) struct Coalesced<T> {
    inner: T,
    /// Bytes at the start of the inner transport's output buffer not sent yet.
    pending: usize,
    /// What the inner transport read, until TLS takes it.
    input: LazyBuffers,
}

impl<T: Transport> Coalesced<T> {
    fn flush(&mut self, timeout: NextTimeout) -> Result<(), ureq::Error> {
        if self.pending > 0 {
            let amount = std::mem::take(&mut self.pending);
            self.inner.transmit_output(amount, timeout)?;
        }
        Ok(())
    }
}

impl<T: Transport> Transport for Coalesced<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.pending += amount;
        if self.inner.buffers().output().len() - self.pending < ROOM {
            self.flush(timeout)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.flush(timeout)?;
        if self.inner.buffers().input().is_empty() && !self.inner.await_input(timeout)? {
            return Ok(false);
        }
        let from = self.inner.buffers().input();
        let to = self.input.input_append_buf();
        let n = from.len().min(to.len());
        to[..n].copy_from_slice(&from[..n]);
        self.input.input_appended(n);
        self.inner.buffers().input_consume(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // Output not sent would be half a request, input not taken bytes nobody asked for
        // (as the inner probe counts them): either way the connection is not reused.
        self.pending == 0 && self.input.input().is_empty() && self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// Output: the inner transport's buffer after what is pending. Input: our own.
impl<T: Transport> Buffers for Coalesced<T> {
    fn output(&mut self) -> &mut [u8] {
        let pending = self.pending;
        &mut self.inner.buffers().output()[pending..]
    }

    fn input(&self) -> &[u8] {
        self.input.input()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.input.input_append_buf()
    }

    fn input_appended(&mut self, amount: usize) {
        self.input.input_appended(amount)
    }

    fn input_consume(&mut self, amount: usize) {
        self.input.input_consume(amount)
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        let pending = self.pending;
        let (tmp, output) = self.inner.buffers().tmp_and_output();
        (tmp, &mut output[pending..])
    }

    fn can_use_input(&self) -> bool {
        self.input.can_use_input()
    }
}
