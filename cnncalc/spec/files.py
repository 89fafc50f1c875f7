"""Reading a spec, key, answer or model file: bounded, and never a folder, device or socket.

Every file cnncalc reads is opened by :func:`open_regular`; text files are read by :func:`read_text`.
"""

import os
import stat

from ..errors import SpecError

MAX_FILE_BYTES = 16 * 1024 * 1024


def read_text(path):
    """The text of a file (``-``: standard input), or a SpecError saying why it cannot be read."""
    path = str(path)
    piped = ""
    if path == "-":
        import sys

        path = "<stdin>"
        data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        piped = "; an ONNX model is read from its file (cnncalc report model.onnx), not from standard input"
    else:
        data = _read_file(path)
    if len(data) > MAX_FILE_BYTES:  # bounded reads: /proc files report a size of 0, a pipe none
        raise SpecError(f"more than {MAX_FILE_BYTES:,} bytes; the limit is {MAX_FILE_BYTES:,}{piped}", file=path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError("UTF-16 text; save the file as UTF-8", file=path)
    if b"\0" in data:
        raise SpecError(f"not a text file (binary data){piped}", file=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(f"not UTF-8 text (bad byte at offset {err.start})", file=path) from None


def _read_file(path):
    """At most MAX_FILE_BYTES + 1 bytes of ``path`` (a regular file: see open_regular)."""
    with open_regular(path) as handle:
        try:
            return handle.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            raise SpecError(f"cannot read file ({err.strerror})", file=path) from None


def open_regular(path):
    """``path`` opened for reading in binary, if it is a regular file or a pipe; a SpecError otherwise.

    Every spec or model file is opened here. A folder, a device (``/dev/zero``, a tape, a watchdog) or a
    socket is refused from its metadata before anything opens it, so nothing hangs or has side effects. A
    pipe (``/dev/stdin`` piped, a shell's ``<(...)``, a FIFO) is read as shells use it, and every reader
    reads at most MAX_FILE_BYTES + 1 bytes: the open does not wait (non-blocking), then the reads wait for
    the writer; a FIFO nobody writes to reads as empty at once.
    """
    path = str(path)
    try:
        kind = _file_kind(os.stat(path).st_mode)
        if kind:
            raise SpecError(f"is {kind}, not a spec file", file=path)
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        handle = open(descriptor, "rb")
        mode = os.fstat(handle.fileno()).st_mode
        kind = _file_kind(mode)
        if kind:
            handle.close()
            raise SpecError(f"is {kind}, not a spec file", file=path)
        if stat.S_ISFIFO(mode) and hasattr(os, "set_blocking"):
            os.set_blocking(handle.fileno(), True)  # opened without waiting; now read what the writer sends
        return handle
    except FileNotFoundError:
        raise SpecError("no such file", file=path) from None
    except OSError as err:
        raise SpecError(f"cannot read file ({err.strerror})", file=path) from None


def _file_kind(mode):
    """What a file is when it is not a regular file ("a directory", "a device"...), else None."""
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):  # a pipe is read with the size limit (see open_regular)
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def file_stem(file):
    """A file's name without its folder and extension: ``configs/resnet18.yaml`` -> ``resnet18``."""
    return os.path.splitext(os.path.basename(str(file)))[0]
