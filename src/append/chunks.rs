//! Reading a caller's input in request-sized chunks, into buffers whose size the caller chose.

use crate::error::{Error, ErrorKind, Result};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// An empty buffer with room for `size` bytes, or an error: sizes come from the caller, and
/// an allocation that fails must not abort the host process.
pub(crate) fn try_buffer(size: usize) -> Result<Vec<u8>> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(size).map_err(|_| {
        Error::new(
            ErrorKind::OutOfMemory,
            format!("no memory for a buffer of {size} bytes; use a smaller request size"),
        )
    })?;
    Ok(buffer)
}

/// Reads `reader` to its end in chunks of `size` (the last may be shorter) through one
/// buffer, calling `each` with every chunk and the bytes read so far. Returns the total.
pub(crate) fn for_each_chunk(
    mut reader: impl Read,
    size: usize,
    mut each: impl FnMut(&[u8], u64) -> Result<()>,
) -> Result<u64> {
    let mut buffer = try_buffer(size)?;
    buffer.resize(size, 0);
    let mut transferred = 0;
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            match reader.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                            "reading the input after {} bytes: {e}",
                            transferred + filled as u64
                        ),
                    ))
                }
            }
        }
        if filled == 0 {
            return Ok(transferred);
        }
        transferred += filled as u64;
        each(&buffer[..filled], transferred)?;
    }
}

/// Opens `path` and runs `write` on it, naming the file in any I/O error.
pub(crate) fn with_file(path: &Path, write: impl FnOnce(File) -> Result<u64>) -> Result<u64> {
    let file = File::open(path)
        .map_err(|e| Error::new(ErrorKind::Io, format!("opening {}: {e}", path.display())))?;
    write(file).map_err(|e| {
        if e.kind() == ErrorKind::Io {
            let message = format!("{}: {}", path.display(), e.message());
            e.with_message(message)
        } else {
            e
        }
    })
}
