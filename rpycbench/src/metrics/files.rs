//! Reading and writing the files rpycbench produces: input files are read with a bound
//! (a results file named by mistake as `/dev/zero`, or a multi-gigabyte file, is an
//! error, not an allocation without end), and output files are written atomically.

use std::io::{Error, ErrorKind, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// The largest input file rpycbench reads (results, baselines, telemetry): 256 MiB. A
/// suite of hundreds of benchmarks writes a few MiB, so this leaves a wide margin.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Reads a whole input file as UTF-8 text, refusing what is not a regular file
/// (devices, FIFOs, directories, sockets) and anything past [`MAX_INPUT_BYTES`], each
/// with an error that says so.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    // Checked before opening: opening a FIFO for reading would wait for a writer.
    refuse_irregular(&std::fs::metadata(path)?.file_type())?;
    // O_NONBLOCK: should the path have become a FIFO since, the open must not wait.
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    refuse_irregular(&meta.file_type())?;
    let too_large = || {
        Error::new(
            ErrorKind::FileTooLarge,
            format!("larger than {} MiB, the most rpycbench reads from an input file", MAX_INPUT_BYTES >> 20),
        )
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    // The size can still grow while reading: the read stops one byte past the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| Error::new(ErrorKind::InvalidData, format!("not UTF-8 text: {e}")))
}

fn refuse_irregular(kind: &std::fs::FileType) -> std::io::Result<()> {
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(Error::new(ErrorKind::InvalidInput, format!("{what}: rpycbench reads regular files only")))
}

/// Writes `bytes` to `path` through a temporary file in the same directory (synced,
/// then renamed into place), so a crash never leaves half a file and readers never see
/// one. Temporary files of this name left by processes that died before their rename
/// (`.NAME.PID.tmp` of a PID that no longer exists) are removed first.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    remove_stale_temporaries(dir, &file_name);
    let tmp = dir.join(temporary_name(&file_name, std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn temporary_name(file_name: &str, pid: u32) -> String {
    format!(".{file_name}.{pid}.tmp")
}

/// Removes `.NAME.PID.tmp` files in `dir` whose PID is not a live process. A PID
/// alive again (reused) keeps its file, which is harmless: only space is lost.
fn remove_stale_temporaries(dir: &Path, file_name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!(".{file_name}.");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)?.strip_suffix(".tmp")?.parse::<i32>().ok())
        else {
            continue;
        };
        let dead = pid > 0
            && pid as u32 != std::process::id()
            && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
        if dead {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused_without_reading() {
        let err = read_input(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("character device"), "{err}");
        let err = read_input(Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
    }
}
